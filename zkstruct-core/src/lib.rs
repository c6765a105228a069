//! Runtime of zkstruct: a struct kept in Apache ZooKeeper, with typed change events.
//!
//! Applications depend on the `zkstruct` facade crate, which re-exports this crate's
//! public items together with `#[derive(ZkShared)]`.
#![warn(missing_docs)]

pub mod blocking;
mod codec;
mod commit;
pub mod diff;
mod error;
mod events;
mod lock;
mod metrics;
mod options;
mod paths;
mod presence;
mod security;
mod session;
mod shared;
mod state;
#[cfg(feature = "testing")]
pub mod testing;
mod watcher;

pub use crate::error::{Error, Result};
pub use crate::events::{
    ChangeSet, ConnectionStates, Event, FieldChanges, FieldEvent, FieldSubscription, HandlerGuard, Origin,
    Subscription,
};
pub use crate::options::{
    ConflictPolicy, SharedBuilder, DEFAULT_EVENT_CAPACITY, DEFAULT_FRESHNESS_LIMIT, DEFAULT_LOCK_TIMEOUT,
    DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_SESSION_TIMEOUT,
};
pub use crate::presence::{Instance, PresenceEvent, PresenceEvents};
pub use crate::security::AclPolicy;
#[cfg(feature = "tls")]
pub use crate::security::TlsConfig;
pub use crate::session::ConnectionState;

/// Returns the instant `wait` from now, or one far enough ahead to never come when `wait`
/// runs past what the clock can hold.
pub(crate) fn deadline_after(wait: std::time::Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(wait).unwrap_or_else(|| now + std::time::Duration::from_secs(100 * 365 * 86_400))
}

/// The payload codec, for fuzzing. Not public API: it may change in any release.
#[doc(hidden)]
pub mod __fuzz {
    /// Decodes a payload as a shared value would, keeping unknown keys, and encodes it
    /// again; returns `None` when the payload does not decode.
    pub fn round_trip<T: crate::ZkShared>(bytes: &[u8]) -> Option<(T, Vec<u8>)> {
        let (value, unknown) = crate::codec::decode::<T>(bytes).ok()?;
        let encoded = crate::codec::encode(&value, &unknown).expect("a decoded value encodes");
        Some((value, encoded))
    }
}

/// ZooKeeper's ACL types, for [`AclPolicy::Custom`].
pub mod acl {
    pub use zookeeper_client::{Acl, AuthId, Permission};
}
pub use crate::shared::{Shared, ZkShared};
pub use crate::state::{Snapshot, Version};
