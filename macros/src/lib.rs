//! Derives and attributes of [fast-app](https://docs.rs/fast-app). Use them
//! through the `fast-app` crate: `use fast_app::prelude::*;`.
//!
//! Each entry point reads the input into a model, checks it, and expands it;
//! every mistake found is reported at once, on the token that caused it.

mod attr;
mod check;
mod ctxt;
mod expand;
mod kw;
mod model;

use proc_macro::TokenStream;
use syn::{DeriveInput, ItemStruct, parse_macro_input};

use ctxt::Ctxt;

/// Derives `BroadcastEvent`; see the `fast-app` crate for the attribute.
#[proc_macro_derive(BroadcastEvent, attributes(broadcast))]
pub fn derive_broadcast_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = Ctxt::default();
    let event = model::event::Event::from_input(&cx, &input);
    check::event(&cx, &event);
    if cx.is_ok() {
        expand::event::expand(&event).into()
    } else {
        let mut out = cx.into_compile_errors();
        out.extend(expand::fallback::event(&input));
        out.into()
    }
}

/// Derives `Room`; see the `fast-app` crate for the attribute.
#[proc_macro_derive(Room, attributes(room))]
pub fn derive_room(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = Ctxt::default();
    let room = model::room::Room::from_input(&cx, &input);
    check::room(&cx, &room);
    if cx.is_ok() {
        expand::room::expand(&room).into()
    } else {
        let mut out = cx.into_compile_errors();
        out.extend(expand::fallback::room(&input));
        out.into()
    }
}

/// Declares a namespace; see the `fast-app` crate.
#[proc_macro_attribute]
pub fn namespace(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemStruct);
    let cx = Ctxt::default();
    let ns = model::namespace::Namespace::from_input(&cx, args.into(), item);
    check::namespace(&cx, &ns);
    if cx.is_ok() {
        expand::namespace::expand(&ns).into()
    } else {
        let mut out = cx.into_compile_errors();
        out.extend(expand::fallback::namespace(&ns));
        out.into()
    }
}

/// Lists a namespace's rooms. Read by `#[namespace]`, which must come first.
#[proc_macro_attribute]
pub fn rooms(_args: TokenStream, item: TokenStream) -> TokenStream {
    let mut out: proc_macro2::TokenStream = syn::Error::new(
        proc_macro2::Span::call_site(),
        "`#[rooms(...)]` belongs below `#[namespace(...)]` on the same struct: `#[namespace(\"/\")] #[rooms(ChatRoom)] struct GlobalNamespace;`",
    )
    .to_compile_error();
    out.extend(proc_macro2::TokenStream::from(item));
    out.into()
}
