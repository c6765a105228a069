//! Runtime of zkstruct.
pub mod diff;
mod stub;
#[cfg(feature = "testing")]
pub mod testing;
pub use stub::{ChangeSet, Error, Shared, Snapshot, ZkShared};
