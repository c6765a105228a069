//! Checks across fields and generated names, run after the model is built.

use std::collections::BTreeMap;

use syn::ext::IdentExt;
use syn::GenericParam;

use crate::ast::{Container, Field, FieldMode};
use crate::errors::Errors;
use crate::generics;

/// The methods of `zkstruct::Shared` itself. An accessor with one of these names would be
/// shadowed, because method lookup prefers inherent methods over trait methods.
///
/// This list must match the inherent methods of `Shared` in zkstruct-core. `clone` is
/// here too: `Shared` implements `Clone`, so a `clone` accessor would be ambiguous.
const SHARED_METHODS: &[&str] = &[
    "clone",
    "read",
    "read_dirty",
    "read_consistent",
    "update",
    "overwrite_invalid",
    "subscribe_field",
    "subscribe",
    "on_change",
    "instance_id",
    "instances",
    "members",
    "presence_events",
    "session_id",
    "connection_state",
    "connection_states",
    "close",
    "dir",
    "payload_path",
    "options",
    "builder",
];

/// Adds an error for each conflict in the model. Marks a field `rejected` when its
/// generated items would clash with an earlier field's, and clears a custom enum or trait
/// name that clashes, so that the fallback output compiles.
pub(crate) fn check(container: &mut Container, errors: &mut Errors) {
    check_lifetimes(container, errors);
    check_recursive_fields(container, errors);
    check_item_names(container, errors);
    check_variants(container, errors);
    check_json_keys(container, errors);
    check_accessors(container, errors);
}

fn check_lifetimes(container: &Container, errors: &mut Errors) {
    for param in &container.generics.params {
        if let GenericParam::Lifetime(param) = param {
            errors.spanned(
                &param.lifetime,
                "`#[derive(ZkShared)]` does not support lifetime parameters because a shared \
                 struct must own its data",
            );
        }
    }
}

/// Rejects a compared field whose type contains the struct itself, such as
/// `children: Vec<Node>` in `Node`: its change type would contain itself, which the
/// compiler reports as an overflow far from the field. Mutual recursion through another
/// struct is not detected here.
fn check_recursive_fields(container: &mut Container, errors: &mut Errors) {
    let ident = container.ident;
    for field in shared_fields_mut(container) {
        if field.mode == FieldMode::Diffed && generics::mentions_type_name(&field.ty, ident) {
            errors.spanned(
                field.member,
                format!(
                    "field `{}` contains `{ident}` itself and cannot be compared field by field, \
                     so mark it `#[zk(opaque)]` to compare it as a whole",
                    field.member,
                ),
            );
            // The fallback output compares the field as a whole, which compiles.
            field.mode = FieldMode::Opaque;
        }
    }
}

fn check_item_names(container: &mut Container, errors: &mut Errors) {
    let ident = container.ident;
    if container.attrs.change.as_ref() == Some(ident) {
        errors.spanned(&container.attrs.change, "the change enum cannot have the name of the struct");
        container.attrs.change = None;
    }
    if container.attrs.fields.as_ref() == Some(ident) {
        errors.spanned(&container.attrs.fields, "the accessor trait cannot have the name of the struct");
        container.attrs.fields = None;
    }
    if container.change_ident() == container.fields_ident() {
        let tokens = container.attrs.fields.take().or_else(|| container.attrs.change.take());
        errors.spanned(tokens, "the change enum and the accessor trait need different names");
    }
}

fn check_variants(container: &mut Container, errors: &mut Errors) {
    let mut first_by_variant: BTreeMap<String, String> = BTreeMap::new();
    for field in shared_fields_mut(container) {
        let variant = field.variant.to_string();
        match first_by_variant.get(&variant) {
            Some(first) => {
                errors.spanned(
                    field.member,
                    format!(
                        "fields `{first}` and `{}` would both have the change variant `{variant}`, \
                         so rename one of them (`#[serde(rename = \"...\")]` can keep its JSON key)",
                        field.member,
                    ),
                );
                field.rejected = true;
            }
            None => {
                first_by_variant.insert(variant, field.member.to_string());
            }
        }
    }
}

fn check_json_keys(container: &Container, errors: &mut Errors) {
    let mut owner_by_key: BTreeMap<String, String> = BTreeMap::new();
    if let Some(tag) = &container.attrs.tag {
        owner_by_key.insert(tag.value(), "`#[serde(tag)]`".to_owned());
    }
    for field in container.shared_fields() {
        let owner = format!("field `{}`", field.member);
        match owner_by_key.get(&field.json_key) {
            Some(first) => errors.spanned(
                field.member,
                format!("duplicate JSON key `{}`: {first} and {owner} both use it", field.json_key),
            ),
            None => {
                owner_by_key.insert(field.json_key.clone(), owner);
            }
        }
    }
    for field in container.shared_fields() {
        for (alias, literal) in field.aliases.iter().zip(&field.attrs.aliases) {
            match owner_by_key.get(alias) {
                Some(_) if *alias == field.json_key => {}
                Some(owner) => errors.spanned(
                    literal,
                    format!("the alias `{alias}` of field `{}` is also used by {owner}", field.member),
                ),
                None => {
                    owner_by_key.insert(alias.clone(), format!("an alias of field `{}`", field.member));
                }
            }
        }
    }
}

fn check_accessors(container: &mut Container, errors: &mut Errors) {
    let mut owner_by_method: BTreeMap<String, String> = BTreeMap::new();
    for field in shared_fields_mut(container) {
        let getter = field.getter.unraw().to_string();
        if SHARED_METHODS.contains(&getter.as_str()) {
            errors.spanned(
                field.accessor_tokens(),
                format!(
                    "the getter `{getter}` would be shadowed by the method `Shared::{getter}`, so \
                     name the accessor with `#[zk(accessor = \"...\")]`"
                ),
            );
            continue;
        }

        let setter = field.setter.to_string();
        let methods = [(getter, "getter"), (setter, "setter")];
        let clash =
            methods.iter().find_map(|(method, _)| owner_by_method.get(method).map(|owner| (method, owner)));
        if let Some((method, owner)) = clash {
            errors.spanned(
                field.accessor_tokens(),
                format!(
                    "the accessor method `{method}` of field `{}` is also the {owner}, so name one \
                     of the accessors with `#[zk(accessor = \"...\")]`",
                    field.member,
                ),
            );
            field.rejected = true;
            continue;
        }
        for (method, role) in methods {
            owner_by_method.insert(method, format!("{role} of field `{}`", field.member));
        }
    }
}

fn shared_fields_mut<'c, 'a>(container: &'c mut Container<'a>) -> impl Iterator<Item = &'c mut Field<'a>> {
    container.fields.iter_mut().filter(|field| field.mode != FieldMode::Local && !field.rejected)
}
