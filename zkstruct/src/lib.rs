//! Facade of zkstruct.
#![warn(missing_docs)]

pub use zkstruct_core::diff::{
    ApplyError, ChangePath, Diff, KeyPath, MapChange, Modified, OptionChange, PathSegment, SetChange,
    VecChange,
};
pub use zkstruct_core::{ChangeSet, Error, Shared, ZkShared};
pub use zkstruct_derive::ZkShared;

#[cfg(feature = "testing")]
pub use zkstruct_core::testing;

/// Items that generated code names. Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use ::core;
    pub use serde::{de::DeserializeOwned, Serialize};
    pub use zkstruct_core::diff::{apply_whole, diff_whole};
}
