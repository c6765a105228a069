//! The builder that opens a [`Shared`] handle.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::error::{Error, Result};
#[cfg(feature = "sasl")]
use crate::security::SaslCredential;
#[cfg(feature = "tls")]
use crate::security::TlsConfig;
use crate::security::{AclPolicy, AuthCredential, Security};
use crate::shared::Shared;
use crate::ZkShared;

/// Default freshness limit of [`Shared::read`].
pub const DEFAULT_FRESHNESS_LIMIT: Duration = Duration::from_secs(30);
/// Default wait for the write lock.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// Default ZooKeeper session timeout requested from the server.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on the encoded payload: ZooKeeper's default `jute.maxbuffer` is
/// 1,048,575 bytes per request, and the write request also carries paths and headers.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 1_000_000;
/// Default number of events a subscriber may fall behind before it misses some.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;
/// Writes above this size can exceed a server's `jute.maxbuffer` (1,048,575 bytes by
/// default), which makes the server drop the connection instead of replying.
pub(crate) const LARGE_WRITE_BYTES: usize = DEFAULT_MAX_PAYLOAD_BYTES;
/// Largest accepted event capacity: the event buffer is allocated up front.
const MAX_EVENT_CAPACITY: usize = 1 << 20;
/// Maximum lock timeout. A longer one is rejected because its deadline could overflow.
const MAX_LOCK_TIMEOUT: Duration = Duration::from_secs(86_400);
/// Maximum requested session timeout. The server applies its own, lower maximum.
const MAX_SESSION_TIMEOUT: Duration = Duration::from_secs(86_400);
/// Maximum freshness limit.
const MAX_FRESHNESS_LIMIT: Duration = Duration::from_secs(365 * 86_400);

/// The action of an update when ZooKeeper stores a newer version than the local copy it was
/// computed on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictPolicy {
    /// Fails with [`Error::StaleWrite`] and brings the local copy up to date, so that the
    /// caller can look at the newer version and retry. Nothing is written.
    #[default]
    Fail,
    /// Replays the changes the closure made onto the newer version and writes the result.
    /// Fails with [`Error::Conflict`] only when a part the closure changed was also
    /// changed remotely (the change's old value no longer matches). Writers that ignore the
    /// lock are merged with in the same way, up to five times in a row.
    ///
    /// A `Vec`'s changes name positions, so an append on each side conflicts, as does a
    /// change to an element whose position moved. Map and set changes name keys, so they
    /// merge when the keys differ.
    Merge,
}

/// Settings of a [`Shared`] handle, fixed when it opens.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) freshness_limit: Duration,
    pub(crate) lock_timeout: Duration,
    pub(crate) session_timeout: Duration,
    pub(crate) instance_id: Option<String>,
    /// The data of this instance's listener node.
    pub(crate) instance_metadata: Vec<u8>,
    /// The reason the metadata could not be encoded, reported when the handle opens.
    pub(crate) metadata_error: Option<String>,
    pub(crate) max_payload_bytes: usize,
    pub(crate) event_capacity: usize,
    pub(crate) conflict_policy: ConflictPolicy,
    pub(crate) security: Security,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            freshness_limit: DEFAULT_FRESHNESS_LIMIT,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            session_timeout: DEFAULT_SESSION_TIMEOUT,
            instance_id: None,
            instance_metadata: Vec::new(),
            metadata_error: None,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            conflict_policy: ConflictPolicy::default(),
            security: Security::default(),
        }
    }
}

impl Options {
    fn validate(&self) -> Result<()> {
        let invalid = |option, reason| Err(Error::InvalidOption { option, reason });
        if self.lock_timeout.is_zero() || self.lock_timeout > MAX_LOCK_TIMEOUT {
            return invalid("lock_timeout", "must be greater than zero and at most 1 day");
        }
        if self.session_timeout < Duration::from_millis(100) || self.session_timeout > MAX_SESSION_TIMEOUT {
            return invalid("session_timeout", "must be between 100 ms and 1 day");
        }
        if self.max_payload_bytes == 0 {
            return invalid("max_payload_bytes", "must be greater than zero");
        }
        if self.event_capacity == 0 || self.event_capacity > MAX_EVENT_CAPACITY {
            return invalid("event_capacity", "must be between 1 and 1048576");
        }
        if self.metadata_error.is_some() {
            return invalid("instance_metadata", "it cannot be encoded as JSON");
        }
        if self.instance_metadata.len() > self.max_payload_bytes {
            return invalid("instance_metadata", "its JSON is larger than max_payload_bytes");
        }
        if self.freshness_limit < Duration::from_millis(100) || self.freshness_limit > MAX_FRESHNESS_LIMIT {
            return invalid("freshness_limit", "must be between 100 ms and 365 days");
        }
        self.security.validate()
    }
}

/// Opens a [`Shared`] handle: where the value lives, and how the handle behaves.
///
/// Made by [`Shared::builder`]. Nothing connects until [`SharedBuilder::create_or_open`] or
/// [`SharedBuilder::open`] is called.
///
/// ```no_run
/// # use std::time::Duration;
/// # use zkstruct_core::{AclPolicy, ConflictPolicy, Error, Shared, ZkShared};
/// # async fn demo<T: ZkShared>(initial: T) -> Result<(), Error> {
/// let shared: Shared<T> = Shared::builder("10.0.0.1:2181,10.0.0.2:2181", "/apps/monitor")
///     .freshness_limit(Duration::from_secs(10))
///     .lock_timeout(Duration::from_secs(5))
///     .session_timeout(Duration::from_secs(15))
///     .instance_id("monitor-7")
///     .conflict_policy(ConflictPolicy::Merge)
///     .digest_auth("monitor", "secret")
///     .acl(AclPolicy::CreatorAllWorldRead)
///     .create_or_open(initial)
///     .await?;
///
/// // Another instance waits for the value to be created.
/// let follower: Shared<T> = Shared::builder("10.0.0.1:2181", "/apps/monitor").open(Duration::from_secs(30)).await?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until create_or_open() or open() is called"]
pub struct SharedBuilder<T> {
    servers: String,
    dir: String,
    options: Options,
    marker: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for SharedBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBuilder")
            .field("servers", &self.servers)
            .field("dir", &self.dir)
            .field("options", &self.options)
            .finish()
    }
}

impl<T: ZkShared> SharedBuilder<T> {
    pub(crate) fn new(servers: String, dir: String) -> Self {
        SharedBuilder { servers, dir, options: Options::default(), marker: PhantomData }
    }

    /// Sets how long the local copy may go unverified before [`Shared::read`] fails.
    ///
    /// Defaults to 30 s; between 100 ms and 365 days. The handle confirms the copy with a cheap
    /// request every quarter of the limit.
    pub fn freshness_limit(mut self, limit: Duration) -> Self {
        self.options.freshness_limit = limit;
        self
    }

    /// Sets how long an update waits for the write lock before it fails: the wait for an
    /// update of the same handle and the wait in ZooKeeper count together.
    ///
    /// Defaults to 10 s; at most 1 day.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.options.lock_timeout = timeout;
        self
    }

    /// Sets the session timeout to request from the server, which clamps it to its own
    /// `minSessionTimeout` and `maxSessionTimeout`.
    ///
    /// Defaults to 10 s; between 100 ms and 1 day. The connection counts as lost after 2/5 of the negotiated timeout
    /// without a response.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.options.session_timeout = timeout;
        self
    }

    /// Sets this instance's id, the name of its node under `/<dir>/listeners`.
    ///
    /// Defaults to a random UUID. The id must be a valid ZooKeeper node name and must not
    /// be in use by a live instance.
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.options.instance_id = Some(id.into());
        self
    }

    /// Sets the metadata this instance writes into its listener node, as JSON, such as its
    /// host name and process id. Other instances read it with `Shared::members`.
    ///
    /// Defaults to none: the listener node is empty. The JSON may be at most
    /// [`max_payload_bytes`](Self::max_payload_bytes) long.
    pub fn instance_metadata(mut self, metadata: impl serde::Serialize) -> Self {
        match serde_json::to_vec(&metadata) {
            Ok(bytes) => self.options.instance_metadata = bytes,
            Err(error) => self.options.metadata_error = Some(error.to_string()),
        }
        self
    }

    /// Sets the largest encoded payload, in bytes, that an update may write.
    ///
    /// Defaults to 1,000,000. Raise it only together with the `jute.maxbuffer` system
    /// property of the servers.
    pub fn max_payload_bytes(mut self, limit: usize) -> Self {
        self.options.max_payload_bytes = limit;
        self
    }

    /// Sets how many events a subscriber may fall behind before it misses some and
    /// receives `Event::Lagged`.
    ///
    /// Defaults to 1024.
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.options.event_capacity = capacity;
        self
    }

    /// Sets what an update does when the local copy it was computed on is behind ZooKeeper.
    ///
    /// Defaults to [`ConflictPolicy::Fail`].
    pub fn conflict_policy(mut self, policy: ConflictPolicy) -> Self {
        self.options.conflict_policy = policy;
        self
    }

    /// Adds `digest` credentials (`user:password`) to every session, including the new
    /// sessions opened after an expiry.
    ///
    /// The credentials never appear in logs, `Debug` output or errors. They only identify
    /// this instance: use [`SharedBuilder::acl`] to protect the nodes it creates.
    pub fn digest_auth(self, user: impl AsRef<str>, password: impl AsRef<str>) -> Self {
        let secret = format!("{}:{}", user.as_ref(), password.as_ref()).into_bytes();
        self.auth("digest", secret)
    }

    /// Adds credentials of any authentication scheme the servers support (`addauth`) to
    /// every session.
    pub fn auth(mut self, scheme: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        self.options
            .security
            .credentials
            .push(AuthCredential { scheme: scheme.into(), secret: secret.into() });
        self
    }

    /// Authenticates every session with SASL DIGEST-MD5, against a server that runs
    /// ZooKeeper's `SASLAuthenticationProvider` with a `DigestLoginModule`.
    ///
    /// Wrong credentials end the session with [`ConnectionState::AuthFailed`] and fail
    /// the open with [`Error::AuthFailed`].
    ///
    /// [`ConnectionState::AuthFailed`]: crate::ConnectionState::AuthFailed
    #[cfg(feature = "sasl")]
    pub fn sasl_digest_md5(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.options.security.sasl = Some(SaslCredential { user: user.into(), password: password.into() });
        self
    }

    /// Connects with TLS, verifying the servers' certificates against the CA in `config`.
    ///
    /// Every server in the connect string then uses TLS, unless it is written as
    /// `tcp://host:port`. A server whose certificate does not verify fails the open with
    /// [`Error::Tls`].
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: TlsConfig) -> Self {
        self.options.security.tls = Some(config);
        self
    }

    /// Sets the ACL of the nodes this instance creates.
    ///
    /// Defaults to [`AclPolicy::Open`]. [`AclPolicy::CreatorAllWorldRead`] lets only
    /// instances with the same credentials write, and is the usual choice for shared
    /// configuration that agents only read.
    pub fn acl(mut self, policy: AclPolicy) -> Self {
        self.options.security.acl = policy;
        self
    }

    /// Opens the shared value, creating `/<dir>` and its payload from `initial` if they do
    /// not exist.
    ///
    /// An existing payload is adopted and never overwritten; `initial` is then unused.
    ///
    /// # Errors
    ///
    /// Fails on an invalid dir path or option, and when no session can be established within
    /// the session timeout. Fails with [`Error::Decode`] when an existing payload does not
    /// decode. Fails with [`Error::TooLarge`] when `initial` encodes to more than the payload
    /// limit, and with [`Error::NotDecodable`] when its JSON does not decode again.
    pub async fn create_or_open(self, initial: T) -> Result<Shared<T>> {
        self.options.validate()?;
        Shared::open_with(self.servers, self.dir, self.options, Some(initial), Duration::ZERO).await
    }

    /// Opens a shared value that another instance creates, waiting up to `wait` for its
    /// payload to appear.
    ///
    /// # Errors
    ///
    /// Fails with [`Error::OpenTimeout`] if the payload does not appear in time, and like
    /// [`SharedBuilder::create_or_open`] otherwise.
    pub async fn open(self, wait: Duration) -> Result<Shared<T>> {
        self.options.validate()?;
        Shared::open_with(self.servers, self.dir, self.options, None, wait).await
    }
}
