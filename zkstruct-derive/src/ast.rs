//! The typed model of a struct that derives `ZkShared`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{parse_quote, Data, DeriveInput, Fields, Generics, Ident, Path, Type, Visibility};

use crate::attr::{self, ContainerAttrs, FieldAttrs};
use crate::case::variant_name;
use crate::errors::Errors;
use crate::generics;

/// The input of the derive: a struct and its fields.
pub(crate) struct Container<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) generics: &'a Generics,
    pub(crate) attrs: ContainerAttrs,
    /// The fields in declaration order. Empty when the input is not a struct with named
    /// fields.
    pub(crate) fields: Vec<Field<'a>>,
    /// `false` when the input is an enum, a union, a tuple struct or a unit struct.
    pub(crate) has_named_fields: bool,
}

/// The part a field takes in sharing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldMode {
    /// Compared with the field type's own `Diff` implementation.
    Diffed,
    /// Compared as a whole into a `Modified`: `#[zk(opaque)]` or a serde `with` function.
    Opaque,
    /// Not shared: `#[serde(skip)]`. Each process keeps its own value.
    Local,
}

/// One named field.
pub(crate) struct Field<'a> {
    pub(crate) member: &'a Ident,
    /// The field type, with `Self` replaced by the struct's type so that it can be named
    /// outside the struct.
    pub(crate) ty: Type,
    pub(crate) mode: FieldMode,
    pub(crate) attrs: FieldAttrs,
    /// The key serde reads and writes for the field.
    pub(crate) json_key: String,
    /// Further keys serde reads for the field.
    pub(crate) aliases: Vec<String>,
    /// The field's variant in the change enum.
    pub(crate) variant: Ident,
    pub(crate) getter: Ident,
    pub(crate) setter: Ident,
    /// The accessor that subscribes to this field's changes: `subscribe_<getter>`.
    pub(crate) subscriber: Ident,
    /// Set by validation when the field conflicts with an earlier one, so that the
    /// fallback output can leave it out.
    pub(crate) rejected: bool,
}

impl<'a> Container<'a> {
    /// Builds the model, adding an error for each input the derive cannot handle.
    pub(crate) fn from_ast(input: &'a DeriveInput, errors: &mut Errors) -> Self {
        let attrs = attr::container_attrs(&input.attrs, errors);
        let mut container = Container {
            ident: &input.ident,
            vis: &input.vis,
            generics: &input.generics,
            attrs,
            fields: Vec::new(),
            has_named_fields: false,
        };

        let unsupported_tokens = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(fields) => {
                    let self_ty = container.self_ty();
                    for field in &fields.named {
                        let field = Field::from_ast(field, &container.attrs, &self_ty, errors);
                        container.fields.push(field);
                    }
                    container.has_named_fields = true;
                    None
                }
                Fields::Unnamed(fields) => Some(quote!(#fields)),
                Fields::Unit => {
                    let semicolon = data.semi_token;
                    Some(quote!(#semicolon))
                }
            },
            Data::Enum(data) => {
                let keyword = data.enum_token;
                Some(quote!(#keyword))
            }
            Data::Union(data) => {
                let keyword = data.union_token;
                Some(quote!(#keyword))
            }
        };
        if let Some(tokens) = unsupported_tokens {
            errors.spanned(tokens, "`#[derive(ZkShared)]` supports only structs with named fields");
        }
        container
    }

    /// Returns the struct's type with its generic arguments, such as `State<T>`.
    pub(crate) fn self_ty(&self) -> Type {
        let ident = self.ident;
        let (_, type_generics, _) = self.generics.split_for_impl();
        parse_quote!(#ident #type_generics)
    }

    /// Returns the path of the zkstruct facade: `::zkstruct` unless `#[zk(crate = "...")]`
    /// sets it.
    pub(crate) fn krate(&self) -> Path {
        self.attrs.krate.clone().unwrap_or_else(|| parse_quote!(::zkstruct))
    }

    /// Returns the path of `core`, re-exported by the facade.
    pub(crate) fn core(&self) -> TokenStream {
        let krate = self.krate();
        quote!(#krate::__private::core)
    }

    /// Returns the name of the change enum: `<Struct>Change` unless
    /// `#[zk(change = "...")]` sets it.
    pub(crate) fn change_ident(&self) -> Ident {
        let default = || format_ident!("{}Change", self.ident);
        self.attrs.change.clone().unwrap_or_else(default)
    }

    /// Returns the name of the accessor trait: `<Struct>Fields` unless
    /// `#[zk(fields = "...")]` sets it.
    pub(crate) fn fields_ident(&self) -> Ident {
        let default = || format_ident!("{}Fields", self.ident);
        self.attrs.fields.clone().unwrap_or_else(default)
    }

    /// Iterates over the shared fields, except those that validation rejected.
    pub(crate) fn shared_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|field| field.mode != FieldMode::Local && !field.rejected)
    }

    /// Iterates over the `#[serde(skip)]` fields.
    pub(crate) fn local_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|field| field.mode == FieldMode::Local)
    }

    /// Returns `true` when the struct has type or const parameters.
    pub(crate) fn is_generic(&self) -> bool {
        generics::has_type_or_const_params(self.generics)
    }
}

impl<'a> Field<'a> {
    fn from_ast(
        field: &'a syn::Field,
        container: &ContainerAttrs,
        self_ty: &Type,
        errors: &mut Errors,
    ) -> Self {
        let member = field.ident.as_ref().expect("a field of a struct with named fields has a name");
        let name = member.unraw().to_string();
        let attrs = attr::field_attrs(&field.attrs, errors);

        let mode = if attrs.skip {
            FieldMode::Local
        } else if attrs.opaque.is_some() || attrs.custom_serde {
            FieldMode::Opaque
        } else {
            FieldMode::Diffed
        };
        if mode == FieldMode::Local {
            reject_zk_attrs_on_local_field(&attrs, errors);
        }

        let default_key = match container.rename_all {
            Some(rule) => rule.apply_to_field(&name),
            None => name.clone(),
        };
        let serialize_key =
            attrs.rename_serialize.as_ref().map_or_else(|| default_key.clone(), |key| key.value());
        let deserialize_key =
            attrs.rename_deserialize.as_ref().map_or_else(|| default_key.clone(), |key| key.value());
        if mode != FieldMode::Local && serialize_key != deserialize_key {
            errors.spanned(
                &attrs.rename_tokens,
                format!(
                    "the field is serialized as `{serialize_key}` but deserialized as \
                     `{deserialize_key}`, and a shared field must have one JSON key"
                ),
            );
        }
        let aliases = attrs.aliases.iter().map(|alias| alias.value()).collect();

        let mut ty = field.ty.clone();
        generics::replace_self(&mut ty, self_ty);

        let variant = Ident::new(&variant_name(&name), member.span());
        let getter = match &attrs.accessor {
            Some((_, ident)) => ident.clone(),
            None => member.clone(),
        };
        // `_count` gets `set_count`, not `set__count`, which would not be snake case.
        let setter_suffix = getter.unraw().to_string();
        let setter = format_ident!("set_{}", setter_suffix.trim_start_matches('_'), span = getter.span());
        let subscriber =
            format_ident!("subscribe_{}", setter_suffix.trim_start_matches('_'), span = getter.span());

        Field {
            member,
            ty,
            mode,
            attrs,
            json_key: serialize_key,
            aliases,
            variant,
            getter,
            setter,
            subscriber,
            rejected: false,
        }
    }

    /// Returns the tokens that an error about the field's accessors points at: the
    /// `accessor` literal, or else the field name.
    pub(crate) fn accessor_tokens(&self) -> TokenStream {
        match &self.attrs.accessor {
            Some((literal, _)) => quote!(#literal),
            None => {
                let member = self.member;
                quote!(#member)
            }
        }
    }
}

fn reject_zk_attrs_on_local_field(attrs: &FieldAttrs, errors: &mut Errors) {
    if let Some(tokens) = &attrs.opaque {
        errors.spanned(
            tokens,
            "`#[zk(opaque)]` has no effect on a `#[serde(skip)]` field, which is not shared",
        );
    }
    if let Some((literal, _)) = &attrs.accessor {
        errors.spanned(
            literal,
            "`#[zk(accessor)]` has no effect on a `#[serde(skip)]` field, which is not shared",
        );
    }
}
