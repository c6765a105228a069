//! Collection of compile errors, so one expansion reports every problem it finds.

use std::fmt::Display;

use quote::ToTokens;

/// Compile errors found while reading the input, combined into one `syn::Error`.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Adds an error spanning `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Adds an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Returns the combined error, or `None` when nothing was added.
    pub(crate) fn into_error(self) -> Option<syn::Error> {
        self.combined
    }
}
