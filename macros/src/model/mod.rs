//! Typed, span-keeping models of the user's input.

pub mod event;
pub mod namespace;
pub mod payload;
pub mod room;

use heck::ToSnakeCase;
use syn::{Data, DeriveInput};

use crate::ctxt::Ctxt;

/// `Name` in snake case without a trailing `_suffix`: `ChatUpdatedEvent` -> `chat_updated`.
pub fn default_name(ident: &syn::Ident, suffix: &str) -> String {
    let snake = syn::ext::IdentExt::unraw(ident).to_string().to_snake_case();
    match snake.strip_suffix(suffix) {
        Some(stem) if !stem.is_empty() => stem.to_owned(),
        _ => snake,
    }
}

/// Reports a derive on anything but a struct, at its `enum`/`union` keyword.
pub fn require_struct(cx: &Ctxt, input: &DeriveInput, derive: &str) {
    let keyword = match &input.data {
        Data::Struct(_) => return,
        Data::Enum(e) => quote::ToTokens::to_token_stream(&e.enum_token),
        Data::Union(u) => quote::ToTokens::to_token_stream(&u.union_token),
    };
    cx.error_at(keyword, format!("`{derive}` can only be derived for a struct"));
}
