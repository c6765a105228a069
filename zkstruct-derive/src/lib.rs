//! `#[derive(ZkShared)]`: typed diffs and accessors for a struct kept in ZooKeeper.
//!
//! Use it through the `zkstruct` crate, which re-exports the derive and everything the
//! generated code names.

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
///
/// ```ignore
/// use serde::{Deserialize, Serialize};
/// use zkstruct::ZkShared;
///
/// #[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
/// #[serde(rename_all = "camelCase")]
/// pub struct MonitorState {
///     patterns: Vec<String>,
///     #[serde(rename = "interval")]
///     interval_ms: u64,
///     #[zk(opaque)]
///     mode: Mode,
///     #[serde(skip)]
///     local_only: u32,
/// }
/// ```
///
/// # Generated items
///
/// - `enum MonitorStateChange`, with the struct's visibility: one variant per shared field,
///   named after the field in UpperCamelCase (`IntervalMs`). A variant carries
///   `<FieldType as Diff>::Change`, or `Modified<FieldType>` for a field compared as a
///   whole. Its key path starts with the field's JSON key, so appending to `patterns`
///   yields `MonitorStateChange::Patterns(VecChange::Added { index: 2, .. })` at
///   `$.patterns[2]`.
/// - `impl Diff for MonitorState`, which compares and applies field by field.
/// - `impl ZkShared for MonitorState`, whose `JSON_KEYS` lists the JSON keys of the shared
///   fields, their serde aliases and the `#[serde(tag)]` key, and whose
///   `keep_local_fields` copies the `#[serde(skip)]` fields.
/// - `trait MonitorStateFields`, implemented for `Shared<MonitorState>`: a getter
///   (`interval_ms()`), a setter (`set_interval_ms(value)`) and a subscription to that
///   field's changes alone (`subscribe_interval_ms()`) per shared field.
///
/// # Field kinds
///
/// - A field is compared with its type's `Diff` implementation by default.
/// - `#[zk(opaque)]`, `#[serde(with)]`, `#[serde(serialize_with)]` and
///   `#[serde(deserialize_with)]` fields are compared as a whole. Their type needs
///   `Clone + PartialEq + Debug + Send + Sync + 'static` instead of `Diff`. A field whose
///   type contains the struct itself, such as `children: Vec<Node>` in `Node`, must be
///   `#[zk(opaque)]` because its change type would contain itself.
/// - `#[serde(skip)]` fields are local: they get no variant and no accessors, and each
///   process keeps its own value.
///
/// # Attributes
///
/// On the struct:
/// - `#[zk(crate = "path")]`: the path of the `zkstruct` crate, `::zkstruct` by default.
/// - `#[zk(change = "Name")]`: the name of the change enum.
/// - `#[zk(fields = "Name")]`: the name of the accessor trait.
///
/// On a field:
/// - `#[zk(opaque)]`: compare the field as a whole.
/// - `#[zk(accessor = "name")]`: name the getter `name`, the setter `set_name` and the
///   subscription `subscribe_name`. A getter must not have the name of a method of
///   `Shared`, such as `read` or `update`.
///
/// The derive reads serde's `rename_all`, `rename`, `alias`, `tag`, `skip` and `with`
/// attributes to name JSON keys. It rejects the serde attributes that would give a field
/// two JSON keys or make the JSON differ from an object of the struct's fields:
/// - `flatten`, and `skip_serializing` or `skip_deserializing` alone, on a field;
/// - `rename` or `rename_all` with different serialize and deserialize names;
/// - `transparent`, `from`, `try_from`, `into` and `remote` on the struct.
///
/// Enums, unions, tuple structs, unit structs and lifetime parameters are rejected too.
#[proc_macro_derive(ZkShared, attributes(zk))]
pub fn derive_zk_shared(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
