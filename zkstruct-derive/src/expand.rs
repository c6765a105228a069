//! Generation of the change enum and the `Diff` and `ZkShared` impls.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::DeriveInput;

use crate::accessors;
use crate::ast::{Container, Field, FieldMode};
use crate::errors::Errors;
use crate::fallback;
use crate::generics;
use crate::valid;

/// Expands `#[derive(ZkShared)]`, or returns its errors with fallback items.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let mut container = Container::from_ast(input, &mut errors);
    valid::check(&mut container, &mut errors);
    match errors.into_error() {
        None => expand(&container),
        Some(error) => fallback::expand(&container, error),
    }
}

/// Generates every item for a valid container. The fallback also calls it for a container
/// whose errors leave the generated code well-formed.
pub(crate) fn expand(container: &Container) -> TokenStream {
    let change_enum = change_enum(container);
    let change_impls = change_impls(container);
    let diff_impl = diff_impl(container);
    let zk_shared_impl = zk_shared_impl(container);
    let accessor_trait = accessors::accessor_trait(container);
    quote! {
        #change_enum
        #change_impls
        #diff_impl
        #zk_shared_impl
        #accessor_trait
    }
}

/// Returns the name of the hidden variant that uses the struct's otherwise unused
/// parameters.
fn phantom_variant() -> TokenStream {
    quote!(__Phantom)
}

fn change_enum(container: &Container) -> TokenStream {
    let core = container.core();
    let vis = container.vis;
    let change = container.change_ident();
    let generics = container.generics;
    let where_clause = generics::enum_where_clause(container);

    let struct_name = container.ident;
    let doc = format!(
        "A change to one shared field of [`{struct_name}`], as its `Diff` implementation emits \
         and applies it.\n\nEach variant carries the change of one field. Its key path starts \
         with the field's JSON key."
    );
    let variants = container.shared_fields().map(|field| {
        let variant = &field.variant;
        let payload = change_type(container, field);
        let doc = variant_doc(field);
        quote! {
            #[doc = #doc]
            #variant(#payload),
        }
    });

    let unused_params = generics::type_params_unused_by_shared_fields(container);
    let phantom = if unused_params.is_empty() {
        None
    } else {
        let phantom = phantom_variant();
        Some(quote! {
            #[doc(hidden)]
            #[allow(dead_code)]
            #phantom(
                #core::convert::Infallible,
                #core::marker::PhantomData<fn() -> (#(#unused_params,)*)>,
            ),
        })
    };
    quote! {
        #[doc = #doc]
        #[allow(unused_qualifications)]
        #vis enum #change #generics #where_clause {
            #(#variants)*
            #phantom
        }
    }
}

/// Returns the change type of a field: `<Ty as Diff>::Change`, or `Modified<Ty>` for a
/// field compared as a whole. It is spanned at the field type, so that a type without `Diff`
/// is reported there.
pub(crate) fn change_type(container: &Container, field: &Field) -> TokenStream {
    let krate = container.krate();
    let ty = &field.ty;
    match field.mode {
        FieldMode::Opaque => quote_spanned!(ty.span()=> #krate::Modified<#ty>),
        _ => quote_spanned!(ty.span()=> <#ty as #krate::Diff>::Change),
    }
}

fn variant_doc(field: &Field) -> String {
    let member = field.member;
    let key = &field.json_key;
    match field.mode {
        FieldMode::Opaque => {
            format!("A change to the field `{member}` (JSON key `{key}`), compared as a whole.")
        }
        _ => format!("A change to the field `{member}` (JSON key `{key}`)."),
    }
}

/// Returns `true` when the change enum has the hidden variant of unused parameters.
fn has_phantom(container: &Container) -> bool {
    !generics::type_params_unused_by_shared_fields(container).is_empty()
}

/// Generates `Clone`, `Debug`, `PartialEq` and `ChangePath` for the change enum. They are
/// written out rather than derived, so that their bounds are those of the enum and not
/// `T: Clone` and so on for each parameter.
fn change_impls(container: &Container) -> TokenStream {
    let krate = container.krate();
    let core = container.core();
    let change = container.change_ident();
    let (impl_generics, type_generics, _) = container.generics.split_for_impl();
    let where_clause = generics::change_impl_where_clause(container);
    let fields: Vec<&Field> = container.shared_fields().collect();
    let variants: Vec<_> = fields.iter().map(|field| &field.variant).collect();
    let keys: Vec<_> = fields.iter().map(|field| &field.json_key).collect();

    let phantom = phantom_variant();
    let phantom_arm =
        has_phantom(container).then(|| quote!(Self::#phantom(__never, _) => match *__never {},));
    let is_empty = fields.is_empty() && phantom_arm.is_none();

    let clone_body = if is_empty {
        quote!(match *self {})
    } else {
        quote! {
            match self {
                #(Self::#variants(__change) => Self::#variants(#core::clone::Clone::clone(__change)),)*
                #phantom_arm
            }
        }
    };

    let variant_names = variants.iter().map(|variant| variant.to_string());
    let debug_body = if is_empty {
        quote!(match *self {})
    } else {
        quote! {
            match self {
                #(Self::#variants(__change) => {
                    let mut __tuple = #core::fmt::Formatter::debug_tuple(__formatter, #variant_names);
                    #core::fmt::DebugTuple::field(&mut __tuple, __change);
                    #core::fmt::DebugTuple::finish(&mut __tuple)
                })*
                #phantom_arm
            }
        }
    };

    // A match on a pair needs a catch-all arm exactly when the enum has two or more variants.
    let variant_count = fields.len() + usize::from(phantom_arm.is_some());
    let mismatch_arm = (variant_count > 1).then(|| quote!(_ => false,));
    let phantom_pair_arm =
        has_phantom(container).then(|| quote!((Self::#phantom(__never, _), _) => match *__never {},));
    let eq_body = if is_empty {
        quote!(match *self {})
    } else {
        quote! {
            match (self, __other) {
                #((Self::#variants(__left), Self::#variants(__right)) => {
                    #core::cmp::PartialEq::eq(__left, __right)
                })*
                #phantom_pair_arm
                #mismatch_arm
            }
        }
    };

    let path_body = if is_empty {
        quote!(match *self {})
    } else {
        quote! {
            match self {
                #(Self::#variants(__change) => {
                    #krate::KeyPath::push(__path, #krate::PathSegment::Field(#keys));
                    #krate::ChangePath::write_path(__change, __path);
                })*
                #phantom_arm
            }
        }
    };

    quote! {
        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl #impl_generics #core::clone::Clone for #change #type_generics #where_clause {
            fn clone(&self) -> Self {
                #clone_body
            }
        }

        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl #impl_generics #core::fmt::Debug for #change #type_generics #where_clause {
            fn fmt(&self, __formatter: &mut #core::fmt::Formatter<'_>) -> #core::fmt::Result {
                #debug_body
            }
        }

        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl #impl_generics #core::cmp::PartialEq for #change #type_generics #where_clause {
            fn eq(&self, __other: &Self) -> bool {
                #eq_body
            }
        }

        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl #impl_generics #krate::ChangePath for #change #type_generics #where_clause {
            fn write_path(&self, __path: &mut #krate::KeyPath) {
                #path_body
            }
        }
    }
}

fn diff_impl(container: &Container) -> TokenStream {
    let krate = container.krate();
    let core = container.core();
    let ident = container.ident;
    let change = container.change_ident();
    let (impl_generics, type_generics, _) = container.generics.split_for_impl();
    let where_clause = generics::diff_where_clause(container);

    let diff_calls = container.shared_fields().map(|field| {
        let member = field.member;
        let variant = &field.variant;
        let diff_function = match field.mode {
            FieldMode::Opaque => quote!(#krate::__private::diff_whole),
            _ => {
                let ty = &field.ty;
                quote_spanned!(ty.span()=> <#ty as #krate::Diff>::diff)
            }
        };
        quote! {
            #diff_function(&__old.#member, &__new.#member, &mut |__change| {
                __emit(#change::#variant(__change));
            });
        }
    });

    let apply_arms = container.shared_fields().map(|field| {
        let member = field.member;
        let variant = &field.variant;
        let key = &field.json_key;
        let apply_function = match field.mode {
            FieldMode::Opaque => quote!(#krate::__private::apply_whole),
            _ => {
                let ty = &field.ty;
                quote_spanned!(ty.span()=> <#ty as #krate::Diff>::apply)
            }
        };
        quote! {
            #change::#variant(__change) => #core::result::Result::map_err(
                #apply_function(&mut self.#member, __change),
                |__error| #krate::ApplyError::within(__error, #krate::PathSegment::Field(#key)),
            ),
        }
    });
    let phantom = phantom_variant();
    let phantom_arm =
        has_phantom(container).then(|| quote!(#change::#phantom(__never, _) => match __never {},));

    quote! {
        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl #impl_generics #krate::Diff for #ident #type_generics #where_clause {
            type Change = #change #type_generics;

            fn diff(
                __old: &Self,
                __new: &Self,
                __emit: &mut dyn #core::ops::FnMut(#change #type_generics),
            ) {
                #(#diff_calls)*
            }

            fn apply(
                &mut self,
                __change: #change #type_generics,
            ) -> #core::result::Result<(), #krate::ApplyError> {
                match __change {
                    #(#apply_arms)*
                    #phantom_arm
                }
            }
        }
    }
}

fn zk_shared_impl(container: &Container) -> TokenStream {
    let krate = container.krate();
    let core = container.core();
    let ident = container.ident;
    let (impl_generics, type_generics, _) = container.generics.split_for_impl();
    let where_clause = generics::zk_shared_where_clause(container);

    let mut json_keys: Vec<&str> = Vec::new();
    let shared_keys = container.shared_fields().map(|field| field.json_key.as_str());
    let aliases = container.shared_fields().flat_map(|field| field.aliases.iter().map(String::as_str));
    let tag = container.attrs.tag.as_ref().map(|tag| tag.value());
    for key in shared_keys.chain(aliases).chain(tag.as_deref()) {
        if !json_keys.contains(&key) {
            json_keys.push(key);
        }
    }

    let local_members: Vec<_> = container.local_fields().map(|field| field.member).collect();
    let keep_local_fields = (!local_members.is_empty()).then(|| {
        quote! {
            fn keep_local_fields(__new: &mut Self, __old: &Self) {
                #(__new.#local_members = #core::clone::Clone::clone(&__old.#local_members);)*
            }
        }
    });

    quote! {
        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl #impl_generics #krate::ZkShared for #ident #type_generics #where_clause {
            const JSON_KEYS: &'static [&'static str] = &[#(#json_keys),*];

            #keep_local_fields
        }
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    fn expand_to_string(input: DeriveInput) -> String {
        derive(&input).to_string()
    }

    #[test]
    fn errors_are_reported_together() {
        let output = expand_to_string(parse_quote! {
            struct Settings {
                #[serde(flatten)]
                limits: Limits,
                #[zk(opaqe)]
                name: String,
                read: u32,
            }
        });

        assert_eq!(output.matches("compile_error").count(), 3, "{output}");
    }

    #[test]
    fn fallback_leaves_out_conflicting_field() {
        let output = expand_to_string(parse_quote! {
            struct Settings {
                max_size: u32,
                max__size: u32,
            }
        });

        assert_eq!(output.matches("compile_error").count(), 1, "{output}");
        assert!(output.contains("MaxSize"), "{output}");
        assert!(output.contains(". max_size"), "{output}");
        assert!(!output.contains(". max__size"), "{output}");
    }

    #[test]
    fn fallback_for_enum_is_stub() {
        let output = expand_to_string(parse_quote! {
            enum Mode<T> {
                Watch(T),
            }
        });

        assert_eq!(output.matches("compile_error").count(), 1, "{output}");
        assert!(output.contains("enum ModeChange"), "{output}");
        assert!(output.contains("unimplemented"), "{output}");
    }
}
