//! Parsing of `#[zk(...)]` attributes and of the `#[serde(...)]` attributes that decide a
//! field's JSON key or whether it is shared.
//!
//! The derive does not own `#[serde(...)]`: serde_derive validates it and reports malformed
//! values. This module reads only the keys it needs, skips all others, and ignores values it
//! cannot read, so that a malformed serde attribute is reported once, by serde.

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Attribute, Ident, LitStr, Path, Token};

use crate::case::RenameRule;
use crate::errors::Errors;

/// Attributes of the struct itself.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    /// `#[zk(crate = "...")]`: the path of the zkstruct facade.
    pub(crate) krate: Option<Path>,
    /// `#[zk(change = "...")]`: the name of the change enum.
    pub(crate) change: Option<Ident>,
    /// `#[zk(fields = "...")]`: the name of the accessor trait.
    pub(crate) fields: Option<Ident>,
    /// `#[serde(rename_all = "...")]`, when serialize and deserialize use the same rule.
    pub(crate) rename_all: Option<RenameRule>,
    /// `#[serde(tag = "...")]`: an extra JSON key that serde writes with the struct's name.
    pub(crate) tag: Option<LitStr>,
}

/// Attributes of one field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    /// `#[zk(opaque)]`, with the attribute's tokens for error spans.
    pub(crate) opaque: Option<TokenStream>,
    /// `#[zk(accessor = "...")]`: the literal as written and the method name it gives.
    pub(crate) accessor: Option<(LitStr, Ident)>,
    /// `#[serde(rename = "...")]` or the `serialize` form of `rename(...)`.
    pub(crate) rename_serialize: Option<LitStr>,
    /// `#[serde(rename = "...")]` or the first `deserialize` form of `rename(...)`.
    pub(crate) rename_deserialize: Option<LitStr>,
    /// The `rename` attribute as written, for error spans.
    pub(crate) rename_tokens: Option<TokenStream>,
    /// `#[serde(alias = "...")]` and any `deserialize` renames after the first: keys that
    /// serde also reads for this field.
    pub(crate) aliases: Vec<LitStr>,
    /// `#[serde(skip)]`, or both `skip_serializing` and `skip_deserializing`.
    pub(crate) skip: bool,
    /// `#[serde(with = "...")]`, `serialize_with` or `deserialize_with`: serde writes the
    /// field in a shape the derive cannot see, so it is compared as a whole.
    pub(crate) custom_serde: bool,
}

const CONTAINER_ZK_KEYS: &str = "`crate`, `change` or `fields`";
const FIELD_ZK_KEYS: &str = "`opaque` or `accessor`";

/// Reads the container attributes, adding an error for each invalid `#[zk(...)]` key and
/// for each serde attribute that gives the struct a JSON shape other than an object of its
/// fields.
pub(crate) fn container_attrs(attrs: &[Attribute], errors: &mut Errors) -> ContainerAttrs {
    let mut parsed = ContainerAttrs::default();
    let mut rename_all_serialize = None;
    let mut rename_all_deserialize = None;
    let mut rename_all_tokens = None;

    let mut seen = Vec::new();
    for attr in attrs {
        if attr.path().is_ident("zk") {
            let result = attr.parse_nested_meta(|meta| {
                let key = zk_key(&meta)?;
                check_duplicate(&meta, &key, &mut seen, errors);
                match key.as_str() {
                    "crate" => parsed.krate = Some(meta.value()?.parse::<LitStr>()?.parse()?),
                    "change" => parsed.change = Some(parse_type_name(&meta)?),
                    "fields" => parsed.fields = Some(parse_type_name(&meta)?),
                    _ => return Err(unknown_key(&meta, &key, "container", CONTAINER_ZK_KEYS)),
                }
                Ok(())
            });
            if let Err(error) = result {
                errors.push(error);
            }
        } else if attr.path().is_ident("serde") {
            // A malformed serde attribute is ignored here because serde_derive reports it.
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename_all") {
                    let path = meta.path.clone();
                    let (serialize, deserialize) = parse_serialize_deserialize(&meta)?;
                    rename_all_tokens = Some(quote!(#path));
                    if let Some(rule) = serialize {
                        rename_all_serialize = RenameRule::from_name(&rule.value());
                    }
                    if let Some(rule) = deserialize.first() {
                        rename_all_deserialize = RenameRule::from_name(&rule.value());
                    }
                } else if meta.path.is_ident("tag") {
                    parsed.tag = parse_lit_str(&meta)?;
                } else if meta.path.is_ident("transparent") {
                    errors.spanned(&meta.path, unsupported_shape("transparent"));
                } else if let Some(name) =
                    ["from", "try_from", "into", "remote"].into_iter().find(|name| meta.path.is_ident(name))
                {
                    let path = meta.path.clone();
                    let value = parse_lit_str(&meta)?;
                    errors.spanned(quote!(#path = #value), unsupported_shape(name));
                } else {
                    skip_value(meta.input)?;
                }
                Ok(())
            });
        }
    }

    if rename_all_serialize == rename_all_deserialize {
        parsed.rename_all = rename_all_serialize;
    } else {
        errors.spanned(
            rename_all_tokens,
            "`#[serde(rename_all)]` must use the same rule for serialize and deserialize \
             because each shared field has one JSON key",
        );
        parsed.rename_all = rename_all_serialize.or(rename_all_deserialize);
    }
    parsed
}

/// Reads the attributes of one field, adding an error for each invalid `#[zk(...)]` key and
/// each serde attribute that a shared field cannot have.
pub(crate) fn field_attrs(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut parsed = FieldAttrs::default();
    let mut skip_serializing = None;
    let mut skip_deserializing = None;

    let mut seen = Vec::new();
    for attr in attrs {
        if attr.path().is_ident("zk") {
            let result = attr.parse_nested_meta(|meta| {
                let key = zk_key(&meta)?;
                check_duplicate(&meta, &key, &mut seen, errors);
                match key.as_str() {
                    "opaque" => {
                        // Recorded before the value check, so that the fallback output
                        // compares the field as a whole, as its author meant.
                        let path = &meta.path;
                        parsed.opaque = Some(quote!(#path));
                        if !(meta.input.is_empty() || meta.input.peek(Token![,])) {
                            return Err(meta.error("`#[zk(opaque)]` takes no value"));
                        }
                    }
                    "accessor" => parsed.accessor = Some(parse_accessor(&meta)?),
                    _ => return Err(unknown_key(&meta, &key, "field", FIELD_ZK_KEYS)),
                }
                Ok(())
            });
            if let Err(error) = result {
                errors.push(error);
            }
        } else if attr.path().is_ident("serde") {
            // A malformed serde attribute is ignored here because serde_derive reports it.
            let _ = attr.parse_nested_meta(|meta| {
                let path = meta.path.clone();
                if path.is_ident("rename") {
                    let (serialize, deserialize) = parse_serialize_deserialize(&meta)?;
                    parsed.rename_tokens = Some(quote!(#path));
                    if serialize.is_some() {
                        parsed.rename_serialize = serialize;
                    }
                    let mut deserialize = deserialize.into_iter();
                    if let Some(first) = deserialize.next() {
                        parsed.rename_deserialize = Some(first);
                    }
                    parsed.aliases.extend(deserialize);
                } else if path.is_ident("alias") {
                    parsed.aliases.extend(parse_lit_str(&meta)?);
                } else if path.is_ident("skip") {
                    parsed.skip = true;
                } else if path.is_ident("skip_serializing") {
                    skip_serializing = Some(path);
                } else if path.is_ident("skip_deserializing") {
                    skip_deserializing = Some(path);
                } else if path.is_ident("flatten") {
                    errors.spanned(
                        &path,
                        "`#[serde(flatten)]` is not supported by `#[derive(ZkShared)]` because \
                         the key paths of changes inside the field would not match the JSON",
                    );
                } else if ["with", "serialize_with", "deserialize_with"]
                    .iter()
                    .any(|name| path.is_ident(name))
                {
                    parsed.custom_serde = true;
                    skip_value(meta.input)?;
                } else {
                    skip_value(meta.input)?;
                }
                Ok(())
            });
        }
    }

    match (skip_serializing, skip_deserializing) {
        (Some(_), Some(_)) => parsed.skip = true,
        (Some(path), None) | (None, Some(path)) if !parsed.skip => {
            let name = path.get_ident().map(Ident::to_string).unwrap_or_default();
            errors.spanned(
                &path,
                format!(
                    "`#[serde({name})]` alone is not supported because a shared field must be both \
                     serialized and deserialized, so use `#[serde(skip)]` to keep the field local"
                ),
            );
        }
        _ => {}
    }
    parsed
}

/// Returns the key of one `#[zk(...)]` item, rejecting paths such as `a::b`.
fn zk_key(meta: &ParseNestedMeta) -> syn::Result<String> {
    match meta.path.get_ident() {
        Some(ident) => Ok(ident.to_string()),
        None => Err(meta.error("expected a `zk` attribute name, not a path")),
    }
}

fn check_duplicate(meta: &ParseNestedMeta, key: &str, seen: &mut Vec<String>, errors: &mut Errors) {
    if seen.iter().any(|earlier| earlier == key) {
        errors.spanned(&meta.path, format!("duplicate `zk` attribute `{key}`"));
    } else {
        seen.push(key.to_owned());
    }
}

fn unknown_key(meta: &ParseNestedMeta, key: &str, place: &str, expected: &str) -> syn::Error {
    meta.error(format!("unknown `zk` {place} attribute `{key}`, expected {expected}"))
}

fn unsupported_shape(name: &str) -> String {
    format!(
        "`#[serde({name})]` is not supported by `#[derive(ZkShared)]` because the JSON would not \
         be an object of the struct's fields"
    )
}

/// Parses `= "Name"` into a type name for a generated item.
fn parse_type_name(meta: &ParseNestedMeta) -> syn::Result<Ident> {
    let literal: LitStr = meta.value()?.parse()?;
    literal.parse::<Ident>().map_err(|_| {
        syn::Error::new(
            literal.span(),
            format!("invalid type name {:?}, expected an identifier", literal.value()),
        )
    })
}

/// Parses `accessor = "name"` into the getter's name. A keyword such as `type` becomes the
/// raw identifier `r#type`.
fn parse_accessor(meta: &ParseNestedMeta) -> syn::Result<(LitStr, Ident)> {
    let literal: LitStr = meta.value()?.parse()?;
    let value = literal.value();
    let name = value.strip_prefix("r#").unwrap_or(&value);
    let ident = if syn::parse_str::<Ident>(name).is_ok() {
        Ident::new(name, literal.span())
    } else if syn::parse_str::<Ident>(&format!("r#{name}")).is_ok() {
        Ident::new_raw(name, literal.span())
    } else {
        let message = format!("invalid accessor name {value:?}, expected an identifier");
        return Err(syn::Error::new(literal.span(), message));
    };
    Ok((literal, ident))
}

/// Parses `= "..."` or `(serialize = "...", deserialize = "...")`, as serde accepts for
/// `rename` and `rename_all`. `deserialize` may repeat.
fn parse_serialize_deserialize(meta: &ParseNestedMeta) -> syn::Result<(Option<LitStr>, Vec<LitStr>)> {
    if meta.input.peek(Token![=]) {
        let value = parse_lit_str(meta)?;
        return Ok((value.clone(), value.into_iter().collect()));
    }
    let mut serialize = None;
    let mut deserialize = Vec::new();
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            serialize = parse_lit_str(&inner)?;
        } else if inner.path.is_ident("deserialize") {
            deserialize.extend(parse_lit_str(&inner)?);
        } else {
            skip_value(inner.input)?;
        }
        Ok(())
    })?;
    Ok((serialize, deserialize))
}

/// Parses `= "..."`, returning `None` when the value is not a string literal.
fn parse_lit_str(meta: &ParseNestedMeta) -> syn::Result<Option<LitStr>> {
    let mut expr: syn::Expr = meta.value()?.parse()?;
    // Values that come through `macro_rules!` are wrapped in invisible groups.
    while let syn::Expr::Group(group) = expr {
        expr = *group.expr;
    }
    match expr {
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(literal), .. }) => Ok(Some(literal)),
        _ => Ok(None),
    }
}

/// Skips the value of an attribute key the derive does not read: everything up to the next
/// top-level comma.
fn skip_value(input: ParseStream) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}
