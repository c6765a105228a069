//! What zkstruct promises, and where the promises end.
//!
//! # Reads
//!
//! | call | I/O | promise |
//! | --- | --- | --- |
//! | [`Shared::read`] | none | The newest version this handle has taken in, if a response from the server confirmed it within the freshness limit (30 s by default). Otherwise [`Error::Stale`]. |
//! | [`Shared::read_consistent`] | `sync` and `exists`, plus `get_data` when behind | The version ZooKeeper stores when the call returns, and the local copy catches up to it. |
//! | [`Shared::read_dirty`] | none | The newest version taken in, however old. Never fails. |
//!
//! Freshness is measured on a monotonic clock from the moment a confirming request was
//! sent: the read that fetched the copy, a periodic `exists` the handle sends every quarter
//! of the freshness limit (but no more often than every 50 ms), or a consistent read. A link that drops
//! packets silently therefore makes `read` fail once the limit has passed, even before the
//! client notices the lost connection.
//!
//! The local copy is always a version that decoded. While ZooKeeper stores a payload that
//! does not decode, or none, `read` keeps returning the last good version, subscribers get
//! [`Event::Failed`], and `read_consistent` returns the error.
//!
//! # Updates
//!
//! [`Shared::update`] holds the handle's async mutex, then a ZooKeeper lock that follows
//! Curator's `InterProcessMutex` recipe on `/<dir>/lock`. It writes with one multi-op that
//! sets the payload at the version it was computed on and deletes its lock node. So:
//!
//! - No other writer's change is overwritten: a write computed on an older version fails
//!   ([`Error::StaleWrite`], or a merge under [`ConflictPolicy::Merge`]).
//! - A writer whose lock node is gone (its session expired, or someone deleted it) cannot
//!   commit: the multi-op fails as a whole.
//! - A write is applied at most once. When its reply is lost, the handle reconnects and
//!   finds out: it retries only while its lock node exists (so the first attempt was not
//!   applied), and otherwise reads the payload back. It returns `Ok` for a write proven
//!   applied, [`Error::LockLost`] for one proven not applied, and [`Error::OutcomeUnknown`]
//!   otherwise; the local copy then counts as stale until it is verified again.
//! - When `update` returns `Ok`, `read` already returns the new version, and its changes
//!   were already sent to subscribers.
//! - Nothing is sent for a value above the payload limit ([`Error::TooLarge`]) or one whose
//!   JSON does not decode again, such as a NaN float ([`Error::NotDecodable`]).
//!
//! # Changes
//!
//! Every version the handle takes in, local or remote, is diffed against the previous one
//! and sent to subscribers before the local copy is replaced. Versions only move forward:
//! a version is taken only if its node was created later, or it was modified later, than
//! the one held, so echoes and reordered reads are dropped, and a payload deleted and
//! created again (its version back at 0) is taken as new. A handle's own write is
//! delivered once, as [`Origin::Local`]. Handlers run one event at a time, in order.
//!
//! Versions can be coalesced: when several writes land before the watcher reads the
//! payload, subscribers get one change set from the last version seen to the newest. The
//! changes, applied in order, still rebuild every value.
//!
//! # Failures
//!
//! | event | what the handle does |
//! | --- | --- |
//! | connection lost, session survives (server restart, move to another member) | [`ConnectionState::Suspended`], then [`ConnectionState::Reconnected`]; reads the payload again, delivering what changed meanwhile; the listener node stays. |
//! | session expired | [`ConnectionState::Expired`]; opens a new session ([`ConnectionState::NewSession`]), creates its listener node again, arms its watches, and delivers what changed meanwhile. Updates in flight fail; none writes without its lock. |
//! | payload deleted | [`Event::Failed`] with [`Error::PayloadMissing`]; updates fail; the payload created again is taken as a new node. |
//! | dir deleted | as above, and the listener node is created again with the payload. |
//! | listener node deleted by another client | creates it again. |
//! | payload that does not decode | [`Event::Failed`] with [`Error::Decode`]; updates fail with [`Error::InvalidPayload`] until the payload is fixed or replaced on purpose with [`Shared::overwrite_invalid`]. |
//! | keys the struct does not declare | kept as they are when this handle writes. Keys inside nested structs are not kept. |
//! | lock holder died | its lock node goes when its session expires; waiting writers then proceed, or fail with [`Error::LockTimeout`] first. |
//! | request above the server's `jute.maxbuffer` | the server drops the connection; the update fails with [`Error::ConnectionLostOnWrite`] after three attempts, writing nothing. |
//!
//! A subscriber that falls more events behind than the event capacity (1024 by default)
//! receives [`Event::Lagged`] with the number it missed; the local copy stays current.
//!
//! [`Shared::read`]: crate::Shared::read
//! [`Shared::read_consistent`]: crate::Shared::read_consistent
//! [`Shared::read_dirty`]: crate::Shared::read_dirty
//! [`Shared::update`]: crate::Shared::update
//! [`Shared::overwrite_invalid`]: crate::Shared::overwrite_invalid
//! [`Error::Stale`]: crate::Error::Stale
//! [`Error::StaleWrite`]: crate::Error::StaleWrite
//! [`Error::LockLost`]: crate::Error::LockLost
//! [`Error::OutcomeUnknown`]: crate::Error::OutcomeUnknown
//! [`Error::TooLarge`]: crate::Error::TooLarge
//! [`Error::NotDecodable`]: crate::Error::NotDecodable
//! [`Error::PayloadMissing`]: crate::Error::PayloadMissing
//! [`Error::Decode`]: crate::Error::Decode
//! [`Error::InvalidPayload`]: crate::Error::InvalidPayload
//! [`Error::LockTimeout`]: crate::Error::LockTimeout
//! [`Error::ConnectionLostOnWrite`]: crate::Error::ConnectionLostOnWrite
//! [`Event::Failed`]: crate::Event::Failed
//! [`Event::Lagged`]: crate::Event::Lagged
//! [`Origin::Local`]: crate::Origin::Local
//! [`ConflictPolicy::Merge`]: crate::ConflictPolicy::Merge
//! [`ConnectionState::Suspended`]: crate::ConnectionState::Suspended
//! [`ConnectionState::Reconnected`]: crate::ConnectionState::Reconnected
//! [`ConnectionState::Expired`]: crate::ConnectionState::Expired
//! [`ConnectionState::NewSession`]: crate::ConnectionState::NewSession
