//! Code generation.

pub mod event;
pub mod fallback;
pub mod namespace;
pub mod room;

use proc_macro2::TokenStream;
use quote::quote;

/// The runtime items generated code may name.
pub fn private() -> TokenStream {
    quote!(::fast_app::__private)
}
