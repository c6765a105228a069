//! Generation of the accessor trait: a getter, a setter and a subscriber per shared field,
//! implemented for `Shared<Struct>`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Visibility;

use crate::ast::{Container, Field};
use crate::expand;
use crate::generics;

pub(crate) fn accessor_trait(container: &Container) -> TokenStream {
    let krate = container.krate();
    let core = container.core();
    let vis = container.vis;
    let ident = container.ident;
    let fields_trait = container.fields_ident();
    let self_ty = container.self_ty();
    let (impl_generics, type_generics, _) = container.generics.split_for_impl();
    let trait_where_clause = generics::accessor_trait_where_clause(container);
    let impl_where_clause = generics::accessor_impl_where_clause(container);

    let doc = format!(
        "Getters and setters for the shared fields of [`{ident}`], implemented for its `Shared` \
         handle.\n\nImport this trait to call them on a `Shared<{ident}>`."
    );
    // A trait that is not `pub` warns as dead code when the crate calls none of its methods.
    let allow_dead_code = (!matches!(vis, Visibility::Public(_))).then(|| quote!(#[allow(dead_code)]));

    let result = |ty: TokenStream| quote!(#core::result::Result<#ty, #krate::Error>);
    let update_future = {
        let output = result(quote!(#krate::ChangeSet<#self_ty>));
        quote!(impl #core::future::Future<Output = #output> + #core::marker::Send + '_)
    };

    let fields: Vec<&Field> = container.shared_fields().collect();
    let subscription = |field: &Field| {
        let change = expand::change_type(container, field);
        quote!(#krate::FieldSubscription<#self_ty, #change>)
    };

    let declarations = fields.iter().map(|field| {
        let getter = &field.getter;
        let setter = &field.setter;
        let subscriber = &field.subscriber;
        let ty = &field.ty;
        let getter_output = result(quote!(#ty));
        let subscription = subscription(field);
        let (getter_doc, setter_doc, subscriber_doc) = docs(field);
        quote! {
            #[doc = #getter_doc]
            fn #getter(&self) -> #getter_output;

            #[doc = #setter_doc]
            fn #setter(&self, value: #ty) -> #update_future;

            #[doc = #subscriber_doc]
            fn #subscriber(&self) -> #subscription;
        }
    });
    let change_enum = container.change_ident();
    let definitions = fields.iter().map(|field| {
        let member = field.member;
        let getter = &field.getter;
        let setter = &field.setter;
        let subscriber = &field.subscriber;
        let variant = &field.variant;
        let ty = &field.ty;
        let getter_output = result(quote!(#ty));
        let subscription = subscription(field);
        quote! {
            fn #subscriber(&self) -> #subscription {
                #krate::Shared::subscribe_field(self, |__change| match __change {
                    #change_enum::#variant(__change) => #core::option::Option::Some(__change),
                    #[allow(unreachable_patterns)]
                    _ => #core::option::Option::None,
                })
            }

            fn #getter(&self) -> #getter_output {
                let __snapshot = #krate::Shared::read(self)?;
                #core::result::Result::Ok(#core::clone::Clone::clone(&__snapshot.#member))
            }

            fn #setter(&self, __value: #ty) -> #update_future {
                #krate::Shared::update(self, move |__state: &mut #self_ty| {
                    __state.#member = __value;
                })
            }
        }
    });

    quote! {
        #[doc = #doc]
        #[allow(unused_qualifications)]
        // The method names come from the field names, which the struct's author chose.
        #[allow(non_snake_case)]
        #allow_dead_code
        #vis trait #fields_trait #impl_generics #trait_where_clause {
            #(#declarations)*
        }

        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl #impl_generics #fields_trait #type_generics for #krate::Shared<#self_ty> #impl_where_clause {
            #(#definitions)*
        }
    }
}

/// Writes the docs of a field's getter, setter and subscriber.
fn docs(field: &Field) -> (String, String, String) {
    let member = field.member;
    let key = &field.json_key;
    let getter = format!(
        "Returns a copy of the field `{member}` (JSON key `{key}`) from the local copy of the \
         shared state.\n\n\
         # Errors\n\n\
         Fails when `Shared::read` fails, for example when the local copy is stale."
    );
    let setter = format!(
        "Sets the field `{member}` (JSON key `{key}`) to `value` through `Shared::update`. The \
         future resolves to the changes of that update.\n\n\
         # Errors\n\n\
         The future fails when `Shared::update` fails."
    );
    let subscriber = format!(
        "Subscribes to the changes of the field `{member}` (JSON key `{key}`), local and \
         remote, from now on. Versions that leave the field unchanged are skipped."
    );
    (getter, setter, subscriber)
}
