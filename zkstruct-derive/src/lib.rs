//! `#[derive(ZkShared)]`: typed diffs and accessors for a struct kept in ZooKeeper.
//!
//! Use it through the `zkstruct` crate, which documents the derive and re-exports
//! everything the generated code names.

mod accessors;
mod ast;
mod attr;
mod case;
mod errors;
mod expand;
mod fallback;
mod generics;
mod valid;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Implements `Diff` and `ZkShared` for a struct with named fields, and generates its
/// change enum and accessor trait.
#[proc_macro_derive(ZkShared, attributes(zk))]
pub fn derive_zk_shared(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
