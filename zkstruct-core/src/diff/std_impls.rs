//! [`Diff`] for the standard library's types.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Debug;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use serde::Serialize;

use super::path::json_key;
use super::{apply_whole, diff_whole, ApplyError, ChangePath, Diff, KeyPath, Modified, PathSegment};

macro_rules! diff_as_whole {
    ($($ty:ty),* $(,)?) => {$(
        impl Diff for $ty {
            type Change = Modified<$ty>;

            fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) {
                diff_whole(old, new, emit);
            }

            fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> {
                apply_whole(self, change)
            }
        }
    )*};
}

diff_as_whole!(
    (),
    bool,
    char,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    String,
    std::num::NonZeroU8,
    std::num::NonZeroU16,
    std::num::NonZeroU32,
    std::num::NonZeroU64,
    std::num::NonZeroUsize,
    std::num::NonZeroI32,
    std::num::NonZeroI64,
    std::time::Duration,
    std::path::PathBuf,
    std::net::IpAddr,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr,
    std::net::SocketAddr,
    serde_json::Value,
);

macro_rules! diff_float {
    ($($ty:ty),*) => {$(
        /// Floats compare by value, except that NaN equals NaN, so a NaN field does not report
        /// a change on every comparison.
        impl Diff for $ty {
            type Change = Modified<$ty>;

            fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) {
                if old != new && !(old.is_nan() && new.is_nan()) {
                    emit(Modified { old: *old, new: *new });
                }
            }

            fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> {
                if *self != change.old && !(self.is_nan() && change.old.is_nan()) {
                    return Err(ApplyError::new("the current value differs from the change's old value"));
                }
                *self = change.new;
                Ok(())
            }
        }
    )*};
}

diff_float!(f32, f64);

impl<T: Diff> Diff for Box<T> {
    type Change = T::Change;

    fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) {
        T::diff(old, new, emit);
    }

    fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> {
        T::apply(self, change)
    }
}

impl<T: Diff> Diff for Arc<T> {
    type Change = T::Change;

    fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) {
        if !Arc::ptr_eq(old, new) {
            T::diff(old, new, emit);
        }
    }

    fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> {
        T::apply(Arc::make_mut(self), change)
    }
}

/// A change to an `Option`.
#[derive(Clone, Debug, PartialEq)]
pub enum OptionChange<T: Diff> {
    /// The value became `Some`.
    Added(T),
    /// The value became `None`; this was the value it held.
    Removed(T),
    /// The value stayed `Some` and changed inside.
    Modified(T::Change),
}

impl<T: Diff> ChangePath for OptionChange<T> {
    fn write_path(&self, path: &mut KeyPath) {
        if let OptionChange::Modified(change) = self {
            change.write_path(path);
        }
    }
}

impl<T> Diff for Option<T>
where
    T: Diff + Debug + PartialEq + Send + Sync + 'static,
{
    type Change = OptionChange<T>;

    fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) {
        match (old, new) {
            (None, None) => {}
            (None, Some(value)) => emit(OptionChange::Added(value.clone())),
            (Some(value), None) => emit(OptionChange::Removed(value.clone())),
            (Some(old), Some(new)) => T::diff(old, new, &mut |change| emit(OptionChange::Modified(change))),
        }
    }

    fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> {
        match (self.as_mut(), change) {
            (None, OptionChange::Added(value)) => {
                *self = Some(value);
                Ok(())
            }
            (Some(current), OptionChange::Removed(value)) => {
                if *current != value {
                    return Err(ApplyError::new("the removed value differs from the current one"));
                }
                *self = None;
                Ok(())
            }
            (Some(current), OptionChange::Modified(change)) => current.apply(change),
            (Some(_), OptionChange::Added(_)) => Err(ApplyError::new("added a value where one exists")),
            (None, _) => Err(ApplyError::new("changed a value that is absent")),
        }
    }
}

/// A change to one element of a `Vec`, by index.
///
/// Positions are compared pairwise. A changed position is `Modified`, and elements past the
/// old length are `Added` in ascending order. Elements past the new length are `Removed` in
/// descending order, so each removal applies to the end of the vector left by the one before.
#[derive(Clone, Debug, PartialEq)]
pub enum VecChange<T: Diff> {
    /// An element appended at `index`.
    Added {
        /// Position of the new element.
        index: usize,
        /// The new element.
        value: T,
    },
    /// An element dropped from the end; `index` was its position.
    Removed {
        /// Position the element had.
        index: usize,
        /// The dropped element.
        value: T,
    },
    /// The element at `index` changed inside.
    Modified {
        /// Position of the element.
        index: usize,
        /// The change inside the element.
        change: T::Change,
    },
}

impl<T: Diff> ChangePath for VecChange<T> {
    fn write_path(&self, path: &mut KeyPath) {
        match self {
            VecChange::Added { index, .. } | VecChange::Removed { index, .. } => {
                path.push(PathSegment::Index(*index));
            }
            VecChange::Modified { index, change } => {
                path.push(PathSegment::Index(*index));
                change.write_path(path);
            }
        }
    }
}

impl<T> Diff for Vec<T>
where
    T: Diff + Debug + PartialEq + Send + Sync + 'static,
{
    type Change = VecChange<T>;

    fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) {
        let common = old.len().min(new.len());
        for (index, (old, new)) in old.iter().zip(new).enumerate() {
            T::diff(old, new, &mut |change| emit(VecChange::Modified { index, change }));
        }
        for (index, value) in new.iter().enumerate().skip(common) {
            emit(VecChange::Added { index, value: value.clone() });
        }
        for (index, value) in old.iter().enumerate().skip(common).rev() {
            emit(VecChange::Removed { index, value: value.clone() });
        }
    }

    fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> {
        match change {
            VecChange::Added { index, value } => {
                if index != self.len() {
                    return Err(ApplyError::new("an element can only be added at the end")
                        .within(PathSegment::Index(index)));
                }
                self.push(value);
                Ok(())
            }
            VecChange::Removed { index, value } => match self.get(index) {
                Some(current) if *current == value => {
                    self.remove(index);
                    Ok(())
                }
                Some(_) => Err(ApplyError::new("the removed element differs from the current one")
                    .within(PathSegment::Index(index))),
                None => Err(ApplyError::new("no element at this index").within(PathSegment::Index(index))),
            },
            VecChange::Modified { index, change } => match self.get_mut(index) {
                Some(current) => {
                    current.apply(change).map_err(|error| error.within(PathSegment::Index(index)))
                }
                None => Err(ApplyError::new("no element at this index").within(PathSegment::Index(index))),
            },
        }
    }
}

/// A change to one entry of a map, by key.
#[derive(Clone, Debug, PartialEq)]
pub enum MapChange<K, V: Diff> {
    /// An entry that did not exist before.
    Added {
        /// The new entry's key.
        key: K,
        /// The new entry's value.
        value: V,
    },
    /// An entry that no longer exists.
    Removed {
        /// The removed entry's key.
        key: K,
        /// The value it held.
        value: V,
    },
    /// The value under `key` changed inside.
    Modified {
        /// The entry's key.
        key: K,
        /// The change inside the value.
        change: V::Change,
    },
}

impl<K: Serialize, V: Diff> ChangePath for MapChange<K, V> {
    fn write_path(&self, path: &mut KeyPath) {
        match self {
            MapChange::Added { key, .. } | MapChange::Removed { key, .. } => {
                path.push(PathSegment::Key(json_key(key)));
            }
            MapChange::Modified { key, change } => {
                path.push(PathSegment::Key(json_key(key)));
                change.write_path(path);
            }
        }
    }
}

/// The operations [`Diff`] needs from a map, so `BTreeMap` and `HashMap` share one
/// implementation.
trait MapLike<K, V> {
    fn lookup(&self, key: &K) -> Option<&V>;
    fn lookup_mut(&mut self, key: &K) -> Option<&mut V>;
    fn put(&mut self, key: K, value: V);
    fn take(&mut self, key: &K) -> Option<V>;
}

impl<K: Ord, V> MapLike<K, V> for BTreeMap<K, V> {
    fn lookup(&self, key: &K) -> Option<&V> {
        self.get(key)
    }
    fn lookup_mut(&mut self, key: &K) -> Option<&mut V> {
        self.get_mut(key)
    }
    fn put(&mut self, key: K, value: V) {
        self.insert(key, value);
    }
    fn take(&mut self, key: &K) -> Option<V> {
        self.remove(key)
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> MapLike<K, V> for HashMap<K, V, S> {
    fn lookup(&self, key: &K) -> Option<&V> {
        self.get(key)
    }
    fn lookup_mut(&mut self, key: &K) -> Option<&mut V> {
        self.get_mut(key)
    }
    fn put(&mut self, key: K, value: V) {
        self.insert(key, value);
    }
    fn take(&mut self, key: &K) -> Option<V> {
        self.remove(key)
    }
}

fn key_segment<K: Serialize>(key: &K) -> PathSegment {
    PathSegment::Key(json_key(key))
}

fn diff_maps<'a, K, V>(
    old: impl Iterator<Item = (&'a K, &'a V)>,
    new: impl Iterator<Item = (&'a K, &'a V)>,
    old_map: &impl MapLike<K, V>,
    new_map: &impl MapLike<K, V>,
    emit: &mut dyn FnMut(MapChange<K, V>),
) where
    K: Clone + 'a,
    V: Diff + 'a,
{
    for (key, old_value) in old {
        match new_map.lookup(key) {
            Some(new_value) => V::diff(old_value, new_value, &mut |change| {
                emit(MapChange::Modified { key: key.clone(), change });
            }),
            None => emit(MapChange::Removed { key: key.clone(), value: old_value.clone() }),
        }
    }
    for (key, new_value) in new {
        if old_map.lookup(key).is_none() {
            emit(MapChange::Added { key: key.clone(), value: new_value.clone() });
        }
    }
}

fn apply_map<K, V>(map: &mut impl MapLike<K, V>, change: MapChange<K, V>) -> Result<(), ApplyError>
where
    K: Serialize,
    V: Diff + PartialEq,
{
    match change {
        MapChange::Added { key, value } => {
            if map.lookup(&key).is_some() {
                return Err(ApplyError::new("added a key that exists").within(key_segment(&key)));
            }
            map.put(key, value);
            Ok(())
        }
        MapChange::Removed { key, value } => {
            match map.lookup(&key) {
                Some(current) if *current == value => {
                    map.take(&key);
                    Ok(())
                }
                Some(_) => Err(ApplyError::new("the removed value differs from the current one")
                    .within(key_segment(&key))),
                None => Err(ApplyError::new("removed a key that is absent").within(key_segment(&key))),
            }
        }
        MapChange::Modified { key, change } => match map.lookup_mut(&key) {
            Some(current) => current.apply(change).map_err(|error| error.within(key_segment(&key))),
            None => Err(ApplyError::new("changed a key that is absent").within(key_segment(&key))),
        },
    }
}

impl<K, V> Diff for BTreeMap<K, V>
where
    K: Ord + Clone + Debug + Serialize + Send + Sync + 'static,
    V: Diff + Debug + PartialEq + Send + Sync + 'static,
{
    type Change = MapChange<K, V>;

    fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) {
        // Both maps iterate in key order, so one merge pass pairs the entries.
        let mut old_entries = old.iter().peekable();
        let mut new_entries = new.iter().peekable();
        loop {
            let order = match (old_entries.peek(), new_entries.peek()) {
                (None, None) => return,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some((old_key, _)), Some((new_key, _))) => old_key.cmp(new_key),
            };
            match order {
                std::cmp::Ordering::Less => {
                    let (key, value) = old_entries.next().expect("peeked an entry");
                    emit(MapChange::Removed { key: key.clone(), value: value.clone() });
                }
                std::cmp::Ordering::Greater => {
                    let (key, value) = new_entries.next().expect("peeked an entry");
                    emit(MapChange::Added { key: key.clone(), value: value.clone() });
                }
                std::cmp::Ordering::Equal => {
                    let (key, old_value) = old_entries.next().expect("peeked an entry");
                    let (_, new_value) = new_entries.next().expect("peeked an entry");
                    V::diff(old_value, new_value, &mut |change| {
                        emit(MapChange::Modified { key: key.clone(), change });
                    });
                }
            }
        }
    }

    fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> {
        apply_map(self, change)
    }
}

impl<K, V, S> Diff for HashMap<K, V, S>
where
    K: Eq + Hash + Clone + Debug + Serialize + Send + Sync + 'static,
    V: Diff + Debug + PartialEq + Send + Sync + 'static,
    S: BuildHasher + Clone,
{
    type Change = MapChange<K, V>;

    fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) {
        diff_maps(old.iter(), new.iter(), old, new, emit);
    }

    fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> {
        apply_map(self, change)
    }
}

/// A member added to or removed from a set.
///
/// Its key path is the path of the set itself: JSON writes a set as an array whose order
/// carries no meaning, so a member has no stable index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetChange<T> {
    /// A member that was not in the set before.
    Added(T),
    /// A member that is no longer in the set.
    Removed(T),
}

impl<T> ChangePath for SetChange<T> {
    fn write_path(&self, _path: &mut KeyPath) {}
}

impl<T> Diff for BTreeSet<T>
where
    T: Ord + Clone + Debug + Send + Sync + 'static,
{
    type Change = SetChange<T>;

    fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) {
        for removed in old.difference(new) {
            emit(SetChange::Removed(removed.clone()));
        }
        for added in new.difference(old) {
            emit(SetChange::Added(added.clone()));
        }
    }

    fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> {
        let fits = match change {
            SetChange::Added(member) => self.insert(member),
            SetChange::Removed(member) => self.remove(&member),
        };
        if fits {
            Ok(())
        } else {
            Err(ApplyError::new("added a member that exists, or removed one that is absent"))
        }
    }
}

impl<T, S> Diff for HashSet<T, S>
where
    T: Eq + Hash + Clone + Debug + Send + Sync + 'static,
    S: BuildHasher + Clone,
{
    type Change = SetChange<T>;

    fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) {
        for removed in old.iter().filter(|member| !new.contains(*member)) {
            emit(SetChange::Removed(removed.clone()));
        }
        for added in new.iter().filter(|member| !old.contains(*member)) {
            emit(SetChange::Added(added.clone()));
        }
    }

    fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> {
        let fits = match change {
            SetChange::Added(member) => self.insert(member),
            SetChange::Removed(member) => self.remove(&member),
        };
        if fits {
            Ok(())
        } else {
            Err(ApplyError::new("added a member that exists, or removed one that is absent"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    fn replay<T: Diff + PartialEq + Debug>(old: &T, new: &T) -> Vec<T::Change> {
        let changes = T::changes(old, new);
        let mut replayed = old.clone();
        for change in changes.clone() {
            replayed.apply(change).expect("a change from diff applies");
        }
        assert_eq!(&replayed, new);
        changes
    }

    #[test]
    fn vec_append_is_one_added_change() {
        let old = strings(&["systemd*", "rsync*"]);
        let new = strings(&["systemd*", "rsync*", "firefox*"]);

        let changes = replay(&old, &new);

        assert_eq!(changes, vec![VecChange::Added { index: 2, value: "firefox*".to_string() }]);
        assert_eq!(changes[0].key_path().to_string(), "$[2]");
    }

    #[test]
    fn vec_shrink_removes_from_the_end() {
        let old = strings(&["a", "b", "c", "d"]);
        let new = strings(&["x", "b"]);

        let changes = replay(&old, &new);

        assert_eq!(
            changes,
            vec![
                VecChange::Modified { index: 0, change: Modified { old: "a".into(), new: "x".into() } },
                VecChange::Removed { index: 3, value: "d".into() },
                VecChange::Removed { index: 2, value: "c".into() },
            ]
        );
    }

    #[test]
    fn equal_values_emit_nothing() {
        let value = vec![Some(1_u32), None];
        assert!(Vec::<Option<u32>>::changes(&value, &value.clone()).is_empty());
        assert!(f64::changes(&f64::NAN, &f64::NAN).is_empty());
    }

    #[test]
    fn option_changes_cover_each_transition() {
        assert_eq!(replay(&None, &Some(3_u8)), vec![OptionChange::Added(3)]);
        assert_eq!(replay(&Some(3_u8), &None), vec![OptionChange::Removed(3)]);
        assert_eq!(replay(&Some(3_u8), &Some(4)), vec![OptionChange::Modified(Modified { old: 3, new: 4 })]);
    }

    #[test]
    fn map_changes_by_key_with_paths() {
        let old: BTreeMap<String, u16> = [("a".into(), 1), ("b".into(), 2)].into();
        let new: BTreeMap<String, u16> = [("b".into(), 3), ("c".into(), 4)].into();

        let changes = replay(&old, &new);

        assert_eq!(
            changes,
            vec![
                MapChange::Removed { key: "a".into(), value: 1 },
                MapChange::Modified { key: "b".into(), change: Modified { old: 2, new: 3 } },
                MapChange::Added { key: "c".into(), value: 4 },
            ]
        );
        let paths: Vec<String> = changes.iter().map(|change| change.key_path().to_string()).collect();
        assert_eq!(paths, [r#"$["a"]"#, r#"$["b"]"#, r#"$["c"]"#]);
    }

    #[test]
    fn hash_map_and_set_replay() {
        let old: HashMap<u32, Vec<u8>> = [(1, vec![1]), (2, vec![2])].into();
        let new: HashMap<u32, Vec<u8>> = [(2, vec![2, 3]), (5, vec![])].into();
        assert_eq!(replay(&old, &new).len(), 3);

        let old: HashSet<&'static str> = ["a", "b"].into();
        let new: HashSet<&'static str> = ["b", "c"].into();
        let mut changes = replay(&old, &new);
        changes.sort_by_key(|change| format!("{change:?}"));
        assert_eq!(changes, vec![SetChange::Added("c"), SetChange::Removed("a")]);
    }

    #[test]
    fn apply_rejects_changes_that_do_not_fit() {
        let mut value = strings(&["a"]);
        let error = value
            .apply(VecChange::Modified { index: 4, change: Modified { old: "a".into(), new: "b".into() } })
            .unwrap_err();
        assert_eq!(error.path().to_string(), "$[4]");

        let error = value
            .apply(VecChange::Modified { index: 0, change: Modified { old: "z".into(), new: "b".into() } })
            .unwrap_err();
        assert_eq!(error.reason(), "the current value differs from the change's old value");
        assert_eq!(value, strings(&["a"]));
    }
}
