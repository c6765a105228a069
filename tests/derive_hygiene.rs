//! A user crate that denies missing docs and unused qualifications, and shadows the
//! prelude names that generated code could name by a relative path.
#![deny(missing_docs, unused_qualifications)]

/// Items named like the prelude's, so that any generated relative path resolves to them.
#[allow(dead_code, non_camel_case_types)]
pub mod shadowing {
    use serde::{Deserialize, Serialize};
    use zkstruct::ZkShared;

    /// Shadows `Result`.
    pub struct Result;
    /// Shadows `Ok`.
    pub struct Ok;
    /// Shadows `Err`.
    pub struct Err;
    /// Shadows `Option`.
    pub struct Option;
    /// Shadows `Some`.
    pub struct Some;
    /// Shadows `None`.
    pub struct None;
    /// Shadows `Vec`.
    pub struct Vec;
    /// Shadows `String`.
    pub struct String;
    /// Shadows `Box`.
    pub struct Box;
    /// Shadows `Clone`.
    pub trait Clone {}
    /// Shadows `Debug`.
    pub trait Debug {}
    /// Shadows `PartialEq`.
    pub trait PartialEq {}
    /// Shadows `Send`.
    pub trait Send {}
    /// Shadows `Sync`.
    pub trait Sync {}
    /// Shadows `FnMut`.
    pub trait FnMut {}
    /// Shadows `Future`.
    pub trait Future {}
    /// Shadows the `core` crate.
    pub mod core {}

    /// A mode compared as a whole.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub enum Mode {
        /// Watch the matching processes.
        Watch,
        /// Ignore them.
        Ignore,
    }

    /// A shared struct whose generated items must name everything by absolute paths.
    #[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct Documented {
        /// Process name patterns.
        pub patterns: std::vec::Vec<std::string::String>,
        /// An optional limit.
        pub limit: std::option::Option<u32>,
        /// A boxed value.
        pub boxed: std::boxed::Box<u8>,
        /// The mode, compared as a whole.
        #[zk(opaque)]
        pub mode: Mode,
        /// A value each process keeps for itself.
        #[serde(skip)]
        pub local_only: u32,
    }

    /// A generic shared struct, whose generated bounds must use absolute paths too.
    #[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct GenericDocumented<T, M, const N: usize> {
        items: std::vec::Vec<T>,
        #[zk(opaque)]
        meta: M,
        #[serde(skip)]
        cache: std::vec::Vec<M>,
    }

    /// A shared struct without shared fields.
    #[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct NothingShared {
        #[serde(skip)]
        local_only: u32,
    }

    /// A crate-visible shared struct, whose accessors the crate never calls.
    #[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub(crate) struct CrateVisible {
        value: u32,
    }
}

use shadowing::{Documented, DocumentedChange, Mode};
use zkstruct::{ChangePath, Diff, Modified};

#[test]
fn shadowed_names_do_not_leak_into_output() {
    let old = Documented {
        patterns: vec!["a".to_string()],
        limit: None,
        boxed: Box::new(1),
        mode: Mode::Watch,
        local_only: 0,
    };
    let mut new = old.clone();
    new.mode = Mode::Ignore;

    let changes = Documented::changes(&old, &new);

    assert_eq!(changes, vec![DocumentedChange::Mode(Modified { old: Mode::Watch, new: Mode::Ignore })]);
    assert_eq!(changes[0].key_path().to_string(), "$.mode");
}
