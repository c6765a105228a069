//! Temporary signatures of the runtime, for building the derive against.
use std::future::Future;
use std::sync::Arc;

use crate::diff::Diff;

/// A struct that can be kept in ZooKeeper.
pub trait ZkShared: Diff + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static {
    /// Top-level JSON keys the type reads, including aliases.
    const JSON_KEYS: &'static [&'static str];

    /// Copies the local-only (`#[serde(skip)]`) fields from `old` into `new`.
    fn keep_local_fields(_new: &mut Self, _old: &Self) {}
}

/// Errors.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Stub.
    #[error("stub")]
    Stub,
}

/// Local copy.
pub struct Snapshot<T> {
    value: Arc<T>,
}

impl<T> std::ops::Deref for Snapshot<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Changes of one commit.
pub struct ChangeSet<T: Diff> {
    changes: Vec<T::Change>,
}

impl<T: Diff> std::ops::Deref for ChangeSet<T> {
    type Target = [T::Change];
    fn deref(&self) -> &[T::Change] {
        &self.changes
    }
}

/// Handle.
pub struct Shared<T: ZkShared> {
    value: Arc<T>,
}

impl<T: ZkShared> Shared<T> {
    /// Reads.
    pub fn read(&self) -> Result<Snapshot<T>, Error> {
        Ok(Snapshot {
            value: self.value.clone(),
        })
    }

    /// Updates.
    // The explicit signature states that the future is `Send`, which `async fn` would not.
    #[allow(clippy::manual_async_fn)]
    pub fn update<F>(&self, change: F) -> impl Future<Output = Result<ChangeSet<T>, Error>> + Send + '_
    where
        F: FnOnce(&mut T) + Send + 'static,
    {
        async move {
            let mut value = T::clone(&self.value);
            change(&mut value);
            Ok(ChangeSet {
                changes: T::changes(&self.value, &value),
            })
        }
    }
}
