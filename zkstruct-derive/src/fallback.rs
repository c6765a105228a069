//! Output for an input with errors: the errors, and items that keep the user's other code
//! free of follow-on errors.
//!
//! A struct with named fields and no lifetime parameters still gets the full expansion,
//! without the fields that validation rejected, so that code using the other fields still
//! compiles. Any other input gets stubs: an empty change enum, `Diff` and `ZkShared` impls
//! whose methods panic, and an accessor trait without methods.

use proc_macro2::TokenStream;
use quote::quote;
use syn::GenericParam;

use crate::ast::Container;
use crate::expand;

pub(crate) fn expand(container: &Container, error: syn::Error) -> TokenStream {
    let compile_errors = error.to_compile_error();
    let has_lifetimes = container.generics.lifetimes().next().is_some();
    let items = if container.has_named_fields && !has_lifetimes {
        expand::expand(container)
    } else {
        stubs(container)
    };
    quote! {
        #compile_errors
        #items
    }
}

fn stubs(container: &Container) -> TokenStream {
    let krate = container.krate();
    let core = container.core();
    let vis = container.vis;
    let ident = container.ident;
    let change = container.change_ident();
    let fields_trait = container.fields_ident();
    let (impl_generics, type_generics, where_clause) = container.generics.split_for_impl();
    let mut predicates: Vec<TokenStream> = match where_clause {
        Some(where_clause) => where_clause.predicates.iter().map(|predicate| quote!(#predicate)).collect(),
        None => Vec::new(),
    };

    // The stub enum and trait take the type and const parameters only, without bounds, so
    // that nothing in them can fail to hold.
    let mut params = Vec::new();
    let mut args = Vec::new();
    let mut phantom_types = Vec::new();
    for param in &container.generics.params {
        match param {
            GenericParam::Type(param) => {
                let param = &param.ident;
                params.push(quote!(#param));
                args.push(quote!(#param));
                phantom_types.push(quote!(#param));
                predicates.push(quote!(#param: 'static));
            }
            GenericParam::Const(param) => {
                let (name, ty) = (&param.ident, &param.ty);
                params.push(quote!(const #name: #ty));
                args.push(quote!(#name));
            }
            GenericParam::Lifetime(_) => {}
        }
    }
    let (phantom_variant, never_body) = if phantom_types.is_empty() {
        (None, quote!(match *self {}))
    } else {
        let variant = quote! {
            #[doc(hidden)]
            #[allow(dead_code)]
            __Phantom(#core::convert::Infallible, #core::marker::PhantomData<fn() -> (#(#phantom_types,)*)>),
        };
        (
            Some(variant),
            quote!(match self {
                Self::__Phantom(__never, _) => match *__never {},
            }),
        )
    };

    // `for<'__fallback>` keeps the compiler from rejecting these bounds when they do not
    // hold for a type without parameters: the input's own error is the one to report.
    let self_ty = container.self_ty();
    let serde = quote!(#krate::__private::Serialize + #krate::__private::DeserializeOwned);
    let diff_bound = quote!(for<'__fallback> #self_ty: #core::clone::Clone);
    let zk_shared_bound = quote! {
        for<'__fallback> #self_ty: #core::clone::Clone
            + #serde
            + #core::marker::Send
            + #core::marker::Sync
            + 'static
    };

    quote! {
        /// The change enum of a struct whose `#[derive(ZkShared)]` failed.
        #vis enum #change <#(#params),*> {
            #phantom_variant
        }

        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl<#(#params),*> #core::clone::Clone for #change<#(#args),*> {
            fn clone(&self) -> Self {
                #never_body
            }
        }

        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl<#(#params),*> #core::fmt::Debug for #change<#(#args),*> {
            fn fmt(&self, _: &mut #core::fmt::Formatter<'_>) -> #core::fmt::Result {
                #never_body
            }
        }

        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl<#(#params),*> #core::cmp::PartialEq for #change<#(#args),*> {
            fn eq(&self, _: &Self) -> bool {
                #never_body
            }
        }

        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl<#(#params),*> #krate::ChangePath for #change<#(#args),*> {
            fn write_path(&self, _: &mut #krate::KeyPath) {
                #never_body
            }
        }

        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl #impl_generics #krate::Diff for #ident #type_generics
        where
            #(#predicates,)*
            #diff_bound
        {
            type Change = #change<#(#args),*>;

            fn diff(_: &Self, _: &Self, _: &mut dyn #core::ops::FnMut(Self::Change)) {
                #core::unimplemented!("`#[derive(ZkShared)]` failed")
            }

            fn apply(&mut self, _: Self::Change) -> #core::result::Result<(), #krate::ApplyError> {
                #core::unimplemented!("`#[derive(ZkShared)]` failed")
            }
        }

        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl #impl_generics #krate::ZkShared for #ident #type_generics
        where
            #(#predicates,)*
            #zk_shared_bound
        {
            const JSON_KEYS: &'static [&'static str] = &[];
        }

        /// The accessor trait of a struct whose `#[derive(ZkShared)]` failed.
        #[allow(dead_code)]
        #vis trait #fields_trait <#(#params),*> {}
    }
}
