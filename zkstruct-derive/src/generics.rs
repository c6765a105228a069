//! Generic parameters and where-clauses of the generated items.

use std::collections::BTreeSet;

use quote::quote;
use syn::visit::{self, Visit};
use syn::visit_mut::{self, VisitMut};
use syn::{parse_quote, GenericParam, Generics, Ident, Type, WhereClause, WherePredicate};

use crate::ast::{Container, FieldMode};

/// Returns `true` when `generics` has a type or const parameter.
pub(crate) fn has_type_or_const_params(generics: &Generics) -> bool {
    generics.params.iter().any(|param| !matches!(param, GenericParam::Lifetime(_)))
}

/// Replaces each `Self` in `ty` by `self_ty`. A field type may name the struct as `Self`,
/// but the generated enum and trait are other items, where `Self` means something else.
pub(crate) fn replace_self(ty: &mut Type, self_ty: &Type) {
    struct ReplaceSelf<'a>(&'a Type);

    impl VisitMut for ReplaceSelf<'_> {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::Path(path) = ty {
                if path.qself.is_none() && path.path.is_ident("Self") {
                    *ty = self.0.clone();
                    return;
                }
            }
            visit_mut::visit_type_mut(self, ty);
        }
    }

    ReplaceSelf(self_ty).visit_type_mut(ty);
}

/// Names the type and const parameters that `ty` mentions, by a path that starts with the
/// parameter's name. Types written by a macro are opaque to this check.
fn mentioned_params(ty: &Type, params: &BTreeSet<Ident>) -> BTreeSet<Ident> {
    struct FindParams<'a> {
        params: &'a BTreeSet<Ident>,
        found: BTreeSet<Ident>,
    }

    impl<'ast> Visit<'ast> for FindParams<'_> {
        fn visit_path(&mut self, path: &'ast syn::Path) {
            if path.leading_colon.is_none() {
                if let Some(first) = path.segments.first() {
                    if self.params.contains(&first.ident) {
                        self.found.insert(first.ident.clone());
                    }
                }
            }
            visit::visit_path(self, path);
        }
    }

    let mut finder = FindParams { params, found: BTreeSet::new() };
    finder.visit_type(ty);
    finder.found
}

fn type_and_const_params(generics: &Generics) -> BTreeSet<Ident> {
    let mut params = BTreeSet::new();
    for param in &generics.params {
        match param {
            GenericParam::Type(param) => params.insert(param.ident.clone()),
            GenericParam::Const(param) => params.insert(param.ident.clone()),
            GenericParam::Lifetime(_) => false,
        };
    }
    params
}

/// Returns `true` when `ty` names the type `name` by a one-segment path, as a field type
/// that contains its own struct does. A path such as `other::Node` is another type.
pub(crate) fn mentions_type_name(ty: &Type, name: &Ident) -> bool {
    struct FindName<'a> {
        name: &'a Ident,
        found: bool,
    }

    impl<'ast> Visit<'ast> for FindName<'_> {
        fn visit_path(&mut self, path: &'ast syn::Path) {
            if path.leading_colon.is_none()
                && path.segments.len() == 1
                && path.segments[0].ident == *self.name
            {
                self.found = true;
            }
            visit::visit_path(self, path);
        }
    }

    let mut finder = FindName { name, found: false };
    finder.visit_type(ty);
    finder.found
}

/// Returns `true` when `ty` mentions a type or const parameter of the struct.
pub(crate) fn is_generic_type(ty: &Type, generics: &Generics) -> bool {
    !mentioned_params(ty, &type_and_const_params(generics)).is_empty()
}

/// Lists the type parameters that no shared field's type mentions. The change enum must
/// still use them, or the compiler rejects it for unused parameters. Unused const
/// parameters are allowed, so they need nothing.
pub(crate) fn type_params_unused_by_shared_fields(container: &Container) -> Vec<Ident> {
    let params = type_and_const_params(container.generics);
    let mut used = BTreeSet::new();
    for field in container.shared_fields() {
        used.extend(mentioned_params(&field.ty, &params));
    }
    container
        .generics
        .type_params()
        .map(|param| param.ident.clone())
        .filter(|ident| !used.contains(ident))
        .collect()
}

/// Builds the where-clause of the change enum: the struct's own predicates, a bound for
/// each shared field whose type mentions a parameter, and `T: 'static` for each type
/// parameter because a change type must be `'static`.
///
/// A field type that mentions no parameter gets no bound here. If it lacks `Diff`, the
/// enum's variant for it fails to compile, with the error at the field.
pub(crate) fn enum_where_clause(container: &Container) -> WhereClause {
    let krate = container.krate();
    let core = container.core();
    let mut where_clause = struct_where_clause(container.generics);

    for field in container.shared_fields() {
        if !is_generic_type(&field.ty, container.generics) {
            continue;
        }
        let ty = &field.ty;
        let predicate: WherePredicate = match field.mode {
            FieldMode::Diffed => parse_quote!(#ty: #krate::Diff),
            FieldMode::Opaque => parse_quote!(
                #ty: #core::clone::Clone
                    + #core::cmp::PartialEq
                    + #core::fmt::Debug
                    + #core::marker::Send
                    + #core::marker::Sync
                    + 'static
            ),
            FieldMode::Local => continue,
        };
        where_clause.predicates.push(predicate);
    }
    for param in container.generics.type_params() {
        let ident = &param.ident;
        where_clause.predicates.push(parse_quote!(#ident: 'static));
    }
    where_clause
}

/// Builds the where-clause of the trait impls of the change enum: [`enum_where_clause`] and
/// [`field_diff_assumptions`].
pub(crate) fn change_impl_where_clause(container: &Container) -> WhereClause {
    let mut where_clause = enum_where_clause(container);
    where_clause.predicates.extend(field_diff_assumptions(container));
    where_clause
}

/// Returns `for<'__field> Ty: Diff` for each compared field type that mentions no
/// parameter.
///
/// When such a type lacks `Diff`, the change enum's variant reports it at the field. These
/// predicates let every impl assume `Diff` instead of reporting it again elsewhere. The
/// unused `for<'__field>` keeps the compiler from rejecting a predicate that cannot hold
/// as a trivially false bound, and has no effect when the type implements `Diff`.
fn field_diff_assumptions(container: &Container) -> Vec<WherePredicate> {
    let krate = container.krate();
    container
        .shared_fields()
        .filter(|field| field.mode == FieldMode::Diffed && !is_generic_type(&field.ty, container.generics))
        .map(|field| {
            let ty = &field.ty;
            parse_quote!(for<'__field> #ty: #krate::Diff)
        })
        .collect()
}

/// Builds the where-clause of the `Diff` impl: [`change_impl_where_clause`] and, for a
/// generic struct, `Struct<T>: Clone`, which `Diff` requires and a derived `Clone` does
/// not promise for every `T`.
pub(crate) fn diff_where_clause(container: &Container) -> WhereClause {
    let core = container.core();
    let mut where_clause = change_impl_where_clause(container);
    if container.is_generic() {
        let self_ty = container.self_ty();
        where_clause.predicates.push(parse_quote!(#self_ty: #core::clone::Clone));
    }
    where_clause
}

/// Builds the where-clause of the `ZkShared` impl: [`diff_where_clause`] and, for a
/// generic struct, the serde and thread-safety bounds of `ZkShared` and `Clone` for each
/// local field whose type mentions a parameter.
pub(crate) fn zk_shared_where_clause(container: &Container) -> WhereClause {
    let krate = container.krate();
    let core = container.core();
    let mut where_clause = diff_where_clause(container);
    if !container.is_generic() {
        return where_clause;
    }

    let self_ty = container.self_ty();
    where_clause.predicates.push(parse_quote!(
        #self_ty: #krate::__private::Serialize
            + #krate::__private::DeserializeOwned
            + #core::marker::Send
            + #core::marker::Sync
            + 'static
    ));
    for field in container.local_fields() {
        if is_generic_type(&field.ty, container.generics) {
            let ty = &field.ty;
            where_clause.predicates.push(parse_quote!(#ty: #core::clone::Clone));
        }
    }
    where_clause
}

/// Builds the where-clause of the accessor trait: the struct's own predicates,
/// [`field_diff_assumptions`] and, for a generic struct, `Struct<T>: ZkShared`, which
/// `Shared<Struct<T>>` requires.
pub(crate) fn accessor_trait_where_clause(container: &Container) -> WhereClause {
    let krate = container.krate();
    // The subscriber signatures name each field's change type, so the trait needs the
    // bounds of the change enum.
    let mut where_clause = enum_where_clause(container);
    where_clause.predicates.extend(field_diff_assumptions(container));
    if container.is_generic() {
        let self_ty = container.self_ty();
        let change = container.change_ident();
        let (_, type_generics, _) = container.generics.split_for_impl();
        // Naming the change type keeps it known inside the impl: a bound on `Self` alone
        // would hide the `Change` type of the `Diff` impl.
        where_clause
            .predicates
            .push(parse_quote!(#self_ty: #krate::ZkShared + #krate::Diff<Change = #change #type_generics>));
    }
    where_clause
}

/// Builds the where-clause of the accessor impl: [`accessor_trait_where_clause`] and
/// `Clone + Send + 'static` for each shared field type that mentions a parameter, because a
/// getter clones the value and a setter moves it into the closure it passes to
/// `Shared::update`.
pub(crate) fn accessor_impl_where_clause(container: &Container) -> WhereClause {
    let core = container.core();
    let mut where_clause = accessor_trait_where_clause(container);
    for field in container.shared_fields() {
        if is_generic_type(&field.ty, container.generics) {
            let ty = &field.ty;
            let bound = quote!(#core::clone::Clone + #core::marker::Send + 'static);
            where_clause.predicates.push(parse_quote!(#ty: #bound));
        }
    }
    where_clause
}

fn struct_where_clause(generics: &Generics) -> WhereClause {
    generics
        .where_clause
        .clone()
        .unwrap_or_else(|| WhereClause { where_token: Default::default(), predicates: Default::default() })
}
