//! Code generation.

pub mod event;
pub mod fallback;
pub mod namespace;
pub mod room;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{ExprPath, Ident};

/// The runtime items generated code may name.
pub fn private() -> TokenStream {
    quote!(::fast_app::__private)
}

/// A local of generated code. Mixed-site, so no user path resolves to it,
/// and prefixed, because a binding named like a constant in scope would be
/// read as a pattern matching that constant (hygiene does not cover items).
pub fn local(name: &str) -> Ident {
    Ident::new(&format!("__fast_app_{name}"), Span::mixed_site())
}

/// Where a check of the function at `path` is reported: its last segment,
/// `can_join` in `Self::can_join` (stable proc macros cannot span a whole path).
pub fn path_span(path: &ExprPath) -> Span {
    path.path
        .segments
        .last()
        .map_or_else(|| path.span(), |segment| segment.ident.span())
}
