//! Typed, field-by-field comparison of two values.
//!
//! Every type that can live in a shared struct implements [`Diff`], which compares two
//! of its values and defines the type of a change to it ([`Diff::Change`]). Changes compose,
//! so a change deep inside a struct is a chain of typed values that can be matched on:
//!
//! ```
//! use zkstruct_core::diff::{Diff, VecChange};
//!
//! let old = vec!["systemd*".to_string(), "rsync*".to_string()];
//! let new = vec!["systemd*".to_string(), "rsync*".to_string(), "firefox*".to_string()];
//!
//! let changes = Diff::changes(&old, &new);
//! assert_eq!(changes, vec![VecChange::Added { index: 2, value: "firefox*".to_string() }]);
//! ```
//!
//! Changes are emitted in an order in which [`Diff::apply`] can replay them: applying the
//! changes of `diff(old, new)` to a copy of `old`, in order, yields `new`.

mod path;
mod std_impls;

use std::fmt;

pub use self::path::{ChangePath, KeyPath, PathSegment};
pub use self::std_impls::{MapChange, OptionChange, SetChange, VecChange};

/// A type whose values can be compared field by field into typed changes.
///
/// `#[derive(ZkShared)]` implements it for structs; this crate implements it for the
/// standard scalars, strings, `Option`, `Vec`, `Box`, `Arc`, maps and sets.
#[diagnostic::on_unimplemented(
    message = "the type `{Self}` does not implement `Diff`",
    label = "`{Self}` cannot be compared field by field",
    note = "derive `ZkShared` on `{Self}`, implement `zkstruct::Diff` for it, \
            or mark the field `#[zk(opaque)]` to compare it as a whole"
)]
pub trait Diff: Clone {
    /// The typed description of one change to a value of this type.
    type Change: Clone + fmt::Debug + PartialEq + ChangePath + Send + Sync + 'static;

    /// Compares `old` with `new` and passes each change to `emit`, in replay order.
    ///
    /// Equal values emit nothing.
    fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change));

    /// Applies one change, as emitted by [`Diff::diff`], to `self`.
    ///
    /// # Errors
    ///
    /// Returns [`ApplyError`] when the change does not fit `self`: an index past the end,
    /// a missing key, or an old value that differs from the current one.
    fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError>;

    /// Collects the changes from `old` to `new` into a vector.
    fn changes(old: &Self, new: &Self) -> Vec<Self::Change> {
        let mut changes = Vec::new();
        Self::diff(old, new, &mut |change| changes.push(change));
        changes
    }
}

/// A value that was compared as a whole and changed from `old` to `new`.
///
/// This is the change type of scalars, strings and fields marked `#[zk(opaque)]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Modified<T> {
    /// The value before the change.
    pub old: T,
    /// The value after the change.
    pub new: T,
}

impl<T> ChangePath for Modified<T> {
    fn write_path(&self, _path: &mut KeyPath) {}
}

/// Compares two values as a whole: emits one [`Modified`] when they differ.
///
/// Generated code uses it for fields marked `#[zk(opaque)]` or serialized `with` a custom
/// function.
pub fn diff_whole<T: Clone + PartialEq>(old: &T, new: &T, emit: &mut dyn FnMut(Modified<T>)) {
    if old != new {
        emit(Modified { old: old.clone(), new: new.clone() });
    }
}

/// Applies a [`Modified`] change to a value compared as a whole.
///
/// # Errors
///
/// Returns [`ApplyError`] when the current value is not the change's old value.
pub fn apply_whole<T: PartialEq>(value: &mut T, change: Modified<T>) -> Result<(), ApplyError> {
    if *value != change.old {
        return Err(ApplyError::new("the current value differs from the change's old value"));
    }
    *value = change.new;
    Ok(())
}

/// The reason a change could not be applied, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot apply change at `{path}`: {reason}")]
pub struct ApplyError {
    path: KeyPath,
    reason: &'static str,
}

impl ApplyError {
    /// Creates an error at the root of the value being changed.
    pub fn new(reason: &'static str) -> Self {
        ApplyError { path: KeyPath::new(), reason }
    }

    /// Places the error one level deeper: below `segment` of the enclosing value.
    #[must_use]
    pub fn within(mut self, segment: PathSegment) -> Self {
        self.path.push_front(segment);
        self
    }

    /// Returns the key path of the value the change did not fit.
    pub fn path(&self) -> &KeyPath {
        &self.path
    }

    /// Returns the reason the change did not fit.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}
