//! Code generation.

pub mod event;
pub mod fallback;
pub mod namespace;
pub mod room;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ExprPath;
use syn::spanned::Spanned;

/// The runtime items generated code may name.
pub fn private() -> TokenStream {
    quote!(::fast_app::__private)
}

/// Where a check of the function at `path` is reported: its last segment,
/// `can_join` in `Self::can_join` (stable proc macros cannot span a whole path).
pub fn path_span(path: &ExprPath) -> Span {
    path.path
        .segments
        .last()
        .map_or_else(|| path.span(), |segment| segment.ident.span())
}
