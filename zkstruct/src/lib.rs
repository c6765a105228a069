//! A plain Rust struct kept as shared state in Apache ZooKeeper, with typed change events.
//!
//! `#[derive(ZkShared)]` on a struct with named fields generates a typed change enum
//! (`<Struct>Change`, one variant per field), the [`Diff`] and [`ZkShared`] impls, and an
//! accessor trait (`<Struct>Fields`). The trait has a getter, a setter and a subscription
//! (`subscribe_<field>()`, the changes of that field alone) per field. [`Shared`] keeps
//! the struct under a ZooKeeper dir and delivers every change, made by this instance, by
//! another instance or by any other ZooKeeper client, as those typed changes.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use zkstruct::{Event, Modified, Shared, VecChange, ZkShared};
//!
//! #[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
//! struct MonitorState {
//!     patterns: Vec<String>,
//!     interval_ms: u64,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), zkstruct::Error> {
//! let initial = MonitorState { patterns: vec!["systemd*".into(), "rsync*".into()], interval_ms: 1000 };
//! let state = Shared::builder("127.0.0.1:2181", "/zkstruct/process-monitor")
//!     .create_or_open(initial)
//!     .await?;
//!
//! // A plain read serves the local copy; it fails once the copy is older than the
//! // freshness limit.
//! println!("watching {:?}", state.patterns()?);
//!
//! // An update takes the write lock and compare-and-sets the payload version.
//! let changes = state.update(|s| s.patterns.push("firefox*".into())).await?;
//! assert_eq!(
//!     changes.changes(),
//!     [MonitorStateChange::Patterns(VecChange::Added { index: 2, value: "firefox*".into() })]
//! );
//!
//! // Local and remote changes arrive as the same typed events.
//! let mut events = state.subscribe();
//! while let Some(event) = events.recv().await {
//!     match event {
//!         Event::Changed(change_set) => {
//!             for change in change_set {
//!                 match change {
//!                     MonitorStateChange::IntervalMs(Modified { new, .. }) => println!("every {new} ms"),
//!                     MonitorStateChange::Patterns(change) => println!("patterns: {change:?}"),
//!                 }
//!             }
//!         }
//!         // A payload that does not decode: the last good state stays readable.
//!         Event::Failed(error) => eprintln!("{error}"),
//!         Event::Lagged(missed) => eprintln!("missed {missed} events"),
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! - **Layout.** `/<dir>/payload` contains the struct as plain JSON written by serde_json, so
//!   zkCli.sh, kazoo or Curator can read and write it. `/<dir>/listeners/<instance id>` is
//!   one ephemeral node per live instance. `/<dir>/lock` is the write lock, using the node
//!   names of Apache Curator's `InterProcessMutex`.
//! - **Reads.** [`Shared::read`] serves the local copy without I/O and fails with
//!   [`Error::Stale`] when it was not verified against ZooKeeper within the freshness limit.
//!   [`Shared::read_consistent`] syncs with the server first. [`Shared::read_dirty`] never
//!   fails.
//! - **Writes.** [`Shared::update`] runs one closure at a time per handle, under a
//!   ZooKeeper lock shared with every other instance, and writes with a compare-and-set on
//!   the payload version: an update computed on a stale copy fails with
//!   [`Error::StaleWrite`] and never overwrites another writer.
//! - **Changes.** Each committed version is diffed field by field against the previous one
//!   and sent to subscribers before the local copy is replaced. Unchanged fields produce no
//!   change. A payload that does not decode is reported as [`Event::Failed`], and the last
//!   good state stays readable.
//! - **Unknown keys.** Top-level keys in the payload that the struct does not declare are
//!   kept when this instance writes.
//!
//! The [`guarantees`] page states each promise and its limits, failure by failure.

#![warn(missing_docs)]

pub mod guarantees;

pub use zkstruct_core::blocking;
pub use zkstruct_core::diff::{
    ApplyError, ChangePath, Diff, KeyPath, MapChange, Modified, OptionChange, PathSegment, SetChange,
    VecChange,
};
#[cfg(feature = "tls")]
pub use zkstruct_core::TlsConfig;
pub use zkstruct_core::{
    acl, AclPolicy, ChangeSet, ConflictPolicy, ConnectionState, ConnectionStates, Error, Event, FieldChanges,
    FieldEvent, FieldSubscription, HandlerGuard, Instance, Origin, PresenceEvent, PresenceEvents, Result,
    Shared, SharedBuilder, Snapshot, Subscription, Version, ZkShared, DEFAULT_EVENT_CAPACITY,
    DEFAULT_FRESHNESS_LIMIT, DEFAULT_LOCK_TIMEOUT, DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_SESSION_TIMEOUT,
};
pub use zkstruct_derive::ZkShared;

#[cfg(feature = "testing")]
pub use zkstruct_core::testing;

/// Compiles the README's examples as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;

#[doc(hidden)]
pub use zkstruct_core::__fuzz;

/// Items that generated code names. Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use ::core;
    pub use serde::{de::DeserializeOwned, Serialize};
    pub use zkstruct_core::diff::{apply_whole, diff_whole};
}
