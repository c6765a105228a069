//! The local copy, and the one function that changes it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::broadcast;
use zookeeper_client::Stat;

use crate::codec::UnknownFields;
use crate::error::Error;
use crate::events::{ChangeSet, Notice, Origin, Sender, Subscription};
use crate::ZkShared;

/// Identifies one committed version of the payload node.
///
/// `version` is ZooKeeper's data version, which starts again at 0 when the node is deleted
/// and created anew. The creation and modification transaction ids (`czxid`, `mzxid`) order
/// versions across such a re-creation: a version is newer than another if its node was
/// created later, or if it is the same node and was modified later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    version: i32,
    czxid: i64,
    mzxid: i64,
}

impl Version {
    pub(crate) fn from_stat(stat: &Stat) -> Self {
        Version { version: stat.version, czxid: stat.czxid, mzxid: stat.mzxid }
    }

    /// Returns ZooKeeper's data version of the payload node.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// Returns the id of the transaction that created the payload node.
    pub fn czxid(&self) -> i64 {
        self.czxid
    }

    /// Returns the id of the transaction that wrote this version.
    pub fn mzxid(&self) -> i64 {
        self.mzxid
    }

    /// Returns `true` if `self` was committed after `other`.
    pub fn is_newer_than(&self, other: &Version) -> bool {
        (self.czxid, self.mzxid) > (other.czxid, other.mzxid)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (mzxid {:#x}, czxid {:#x})", self.version, self.mzxid, self.czxid)
    }
}

/// One decoded payload version.
pub(crate) struct Loaded<T> {
    pub(crate) value: T,
    pub(crate) version: Version,
    pub(crate) unknown: UnknownFields,
}

/// A read-only view of one committed version of the shared value.
///
/// It dereferences to the value. Cloning it is cheap: every clone shares one allocation,
/// and later updates never change it.
pub struct Snapshot<T> {
    loaded: Arc<Loaded<T>>,
}

impl<T> Snapshot<T> {
    /// Returns the payload version this value was decoded from or written as.
    pub fn version(&self) -> Version {
        self.loaded.version
    }

    pub(crate) fn unknown_fields(&self) -> &UnknownFields {
        &self.loaded.unknown
    }
}

impl<T> Clone for Snapshot<T> {
    fn clone(&self) -> Self {
        Snapshot { loaded: self.loaded.clone() }
    }
}

impl<T> std::ops::Deref for Snapshot<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.loaded.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Snapshot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("version", &self.loaded.version)
            .field("value", &self.loaded.value)
            .finish()
    }
}

/// When the local copy was last confirmed to match ZooKeeper, on a monotonic clock.
///
/// A confirmation is a response from the server showing that it stores the version of this
/// copy: the read that fetched the copy, the periodic check of the watcher, or a
/// consistent read. Its time is the moment the request was sent, so a confirmation never
/// claims more than the server could have known. Without responses, as when the link is
/// silently cut, the copy ages from the last one.
pub(crate) struct Freshness {
    /// Nanoseconds on the coarse clock at the last confirmation, plus one; zero while the
    /// copy is unconfirmed after a write with an unknown outcome.
    verified_at: AtomicU64,
}

/// A moment on the coarse monotonic clock, in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamp(u64);

/// Reads a monotonic clock that is cheap enough for every `read`.
///
/// On Linux this is `CLOCK_MONOTONIC_COARSE`: it costs a few nanoseconds where
/// `CLOCK_MONOTONIC` costs tens, and it advances in steps of one kernel tick (1 to 10 ms),
/// which is the precision of the freshness limit.
#[cfg(target_os = "linux")]
pub(crate) fn coarse_now() -> Stamp {
    let mut time = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `time` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut time) };
    let seconds = u64::try_from(time.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(time.tv_nsec).unwrap_or(0);
    Stamp(seconds.saturating_mul(1_000_000_000).saturating_add(nanos))
}

/// Reads a monotonic clock that is cheap enough for every `read`.
#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_now() -> Stamp {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let origin = *ORIGIN.get_or_init(std::time::Instant::now);
    Stamp(u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
}

impl Freshness {
    fn new() -> Self {
        Freshness { verified_at: AtomicU64::new(coarse_now().0.saturating_add(1)) }
    }

    /// Records a confirmation by a request sent at `sent`.
    pub(crate) fn mark_verified(&self, sent: Stamp) {
        self.verified_at.fetch_max(sent.0.saturating_add(1), Ordering::AcqRel);
    }

    /// Records that the copy may not match ZooKeeper until the next confirmation.
    pub(crate) fn mark_unverified(&self) {
        self.verified_at.store(0, Ordering::Release);
    }

    /// Returns the time since the last confirmation, or `None` while the copy is
    /// unconfirmed.
    pub(crate) fn age(&self) -> Option<Duration> {
        let verified_at = self.verified_at.load(Ordering::Acquire).checked_sub(1)?;
        Some(Duration::from_nanos(coarse_now().0.saturating_sub(verified_at)))
    }
}

/// The local copy of one shared value, its freshness, and its subscribers.
pub(crate) struct State<T: ZkShared> {
    payload_path: String,
    /// The dir of the payload, the label of its metrics.
    dir: Arc<str>,
    current: ArcSwap<Loaded<T>>,
    /// Serializes `apply`, which compares, emits and swaps as one step. Never held across
    /// an `.await`.
    apply_lock: Mutex<()>,
    failure: Mutex<Failure>,
    /// The sender of every event, until the handle closes.
    events: Mutex<Option<Sender<T>>>,
    /// Woken whenever a version is taken in.
    version_taken: tokio::sync::Notify,
    pub(crate) freshness: Freshness,
}

/// The failures reported since the last version taken.
#[derive(Default)]
struct Failure {
    /// A failure was reported, so the next version taken is reported even if it equals the
    /// last good one.
    reported: bool,
    /// The newest version that did not decode, so each is reported once.
    undecodable: Option<Version>,
    /// The payload was reported missing.
    missing: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<T: ZkShared> State<T> {
    pub(crate) fn new(payload_path: String, initial: Loaded<T>, event_capacity: usize) -> Self {
        let (events, _) = broadcast::channel(event_capacity);
        let dir = Arc::from(payload_path.strip_suffix("/payload").unwrap_or(&payload_path));
        State {
            dir,
            payload_path,
            current: ArcSwap::from_pointee(initial),
            apply_lock: Mutex::new(()),
            failure: Mutex::new(Failure::default()),
            events: Mutex::new(Some(events)),
            version_taken: tokio::sync::Notify::new(),
            freshness: Freshness::new(),
        }
    }

    pub(crate) fn snapshot(&self) -> Snapshot<T> {
        Snapshot { loaded: self.current.load_full() }
    }

    /// Subscribes to the events sent from now on. After [`State::close_events`], the
    /// subscription ends at once.
    pub(crate) fn subscribe(&self) -> Subscription<T> {
        let receiver = match &*lock(&self.events) {
            Some(sender) => sender.subscribe(),
            None => broadcast::channel(1).1,
        };
        Subscription::new(receiver, self.dir.clone())
    }

    /// Waits until the local copy is at `version` or a newer one, for at most `timeout`.
    /// Returns the copy then, or `None` on timeout.
    pub(crate) async fn wait_for(&self, version: Version, timeout: Duration) -> Option<Snapshot<T>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.version_taken.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let snapshot = self.snapshot();
            if !version.is_newer_than(&snapshot.version()) {
                return Some(snapshot);
            }
            tokio::time::timeout_at(deadline, notified).await.ok()?;
        }
    }

    /// Drops the sender, so every subscription ends once it has received the events sent
    /// before.
    pub(crate) fn close_events(&self) {
        lock(&self.events).take();
    }

    fn send(&self, notice: Notice<T>) {
        if let Some(sender) = &*lock(&self.events) {
            // A broadcast send fails only when there are no receivers, which is not an error here.
            let _ = sender.send(Arc::new(notice));
        }
    }

    /// Takes a committed version into the local copy, if it is newer than the one held.
    ///
    /// This is the only code that changes the local copy. It diffs the held value against
    /// the new one, sends the changes to subscribers, and only then swaps the copy. An
    /// older or equal version is dropped, so echoes and reordered reads cannot move the
    /// copy backwards. `computed` carries changes the caller already diffed against the
    /// version named with them; they are used if that version is still the one held.
    ///
    /// A version without changes is sent only when it follows a reported failure, so that
    /// subscribers learn the payload is usable again.
    ///
    /// Returns the change set when the version was taken.
    pub(crate) fn apply(
        &self,
        mut loaded: Loaded<T>,
        origin: Origin,
        computed: Option<(Version, Vec<T::Change>)>,
    ) -> Option<ChangeSet<T>> {
        let _serialized = lock(&self.apply_lock);
        let held = self.current.load_full();
        if !loaded.version.is_newer_than(&held.version) {
            return None;
        }

        T::keep_local_fields(&mut loaded.value, &held.value);
        let changes = match computed {
            Some((base, changes)) if base == held.version => changes,
            _ => T::changes(&held.value, &loaded.value),
        };
        let loaded = Arc::new(loaded);
        let change_set = ChangeSet::new(changes, origin, Snapshot { loaded: loaded.clone() });

        let recovered = std::mem::take(&mut *lock(&self.failure)).reported;
        if !change_set.is_empty() || recovered {
            self.send(Notice::Changed(change_set.clone()));
            crate::metrics::event_delivered(&self.dir);
        }
        self.current.store(loaded);
        self.version_taken.notify_waiters();
        Some(change_set)
    }

    /// Returns `true` if ZooKeeper's payload, at `version` or missing (`None`), is what this
    /// state last saw: the version of the local copy, a version reported as undecodable, or
    /// a payload reported missing.
    pub(crate) fn has_seen(&self, version: Option<Version>) -> bool {
        let failure = lock(&self.failure);
        match version {
            Some(version) => version == self.current.load().version || failure.undecodable == Some(version),
            None => failure.missing,
        }
    }

    /// Reports a payload that cannot be used: undecodable at `version`, or missing. A
    /// version that does not decode is reported once, and so is a missing payload.
    pub(crate) fn report_failure(&self, version: Option<Version>, error: Error) {
        {
            let mut failure = lock(&self.failure);
            match version {
                Some(version) => {
                    if failure.undecodable.is_some_and(|seen| !version.is_newer_than(&seen)) {
                        return;
                    }
                    failure.undecodable = Some(version);
                    failure.missing = false;
                }
                None if failure.missing => return,
                None => failure.missing = true,
            }
            failure.reported = true;
        }
        tracing::warn!(path = %self.payload_path, %error, "payload unusable; keeping the last good state");
        self.send(Notice::Failed(error));
    }
}
