//! `impl Namespace`, `impl ServedRoom` for its rooms, and the registration.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::namespace::Namespace;

pub fn expand(ns: &Namespace) -> TokenStream {
    let p = super::private();
    let item = &ns.item;
    let ident = &item.ident;
    let type_name = ident.to_string();
    let path = &ns.path.0;

    // Locals of the generated code (see `super::local`): a user function
    // called `session` or `payload` stays reachable.
    let session = super::local("session");
    let auth = super::local("auth");
    let reason = super::local("reason");

    // Each function is called through a trait of its expected shape, spanned
    // at its path: a wrong signature is one error there.
    let connect = ns.connect.as_ref().map(|f| {
        let call = quote_spanned!(super::path_span(f)=> <_ as #p::Connect>::call(&#f, #session, #auth));
        quote! {
            fn connect(
                #session: &#p::Session,
                #auth: &#p::serde_json::Value,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<(), #p::ConnectError>> + ::core::marker::Send {
                async move { #call.await }
            }
        }
    });
    let disconnect = ns.disconnect.as_ref().map(|f| {
        let call = quote_spanned!(super::path_span(f)=> <_ as #p::Disconnect>::call(&#f, #session, #reason));
        quote! {
            fn disconnect(
                #session: &#p::Session,
                #reason: #p::DisconnectReason,
            ) -> impl ::core::future::Future<Output = ()> + ::core::marker::Send {
                async move { #call.await }
            }
        }
    });
    // Each as `_` spanned at the path (a wrong shape is reported there) and the path.
    let hook = |f: &Option<syn::ExprPath>| match f {
        Some(f) => {
            let infer = quote_spanned!(super::path_span(f)=> _);
            quote!(#infer, #f)
        }
        None => TokenStream::new(),
    };
    let handlers = match (&ns.handlers, &ns.connected) {
        (None, None) => quote!(::core::option::Option::None),
        (handlers, connected) => {
            let (handlers, connected) = (hook(handlers), hook(connected));
            quote!(::core::option::Option::Some(
                #p::handler_table!(handlers: (#handlers), connected: (#connected))
            ))
        }
    };
    let served = served_rooms(ns);
    let entries = ns.rooms.iter().map(|room| {
        let name = room.to_token_stream().to_string();
        // Named through `ListedRoom`: a non-room is one error on the listing.
        quote_spanned!(room.span()=> #p::RoomEntry::of::<<#room as #p::ListedRoom>::Room>(#name))
    });
    let distinct_keys = distinct_keys(ns);

    quote! {
        #item

        const _: () = {
            #[automatically_derived]
            impl #p::Namespace for #ident {
                const PATH: &'static str = #path;
                #connect
                #disconnect
            }

            #served
            #(#distinct_keys)*

            #p::inventory::submit! {
                #p::NamespaceDef::of::<#ident>(#type_name, &[#(#entries),*], #handlers)
            }
        };
    }
}

/// `impl ServedRoom` for every listed room: what makes them broadcast targets.
pub fn served_rooms(ns: &Namespace) -> TokenStream {
    let p = super::private();
    let path = &ns.path.0;
    let mut seen = Vec::new();
    ns.rooms
        .iter()
        // A room listed twice is reported once, by the check; not again as conflicting impls.
        .filter(|room| {
            let text = room.to_token_stream().to_string();
            let first = !seen.contains(&text);
            seen.push(text);
            first
        })
        .map(|room| {
            quote_spanned! {room.span()=>
                #[automatically_derived]
                impl #p::ServedRoom for #room {
                    const NAMESPACE: &'static str = #path;
                }
            }
        })
        .collect()
}

/// A compile-time check per pair of rooms that their keys differ.
fn distinct_keys(ns: &Namespace) -> Vec<TokenStream> {
    let p = super::private();
    let mut checks = Vec::new();
    for (i, second) in ns.rooms.iter().enumerate() {
        for first in &ns.rooms[..i] {
            let message = format!(
                "rooms `{}` and `{}` of namespace `{}` have the same key: clients could not tell `join_<key>` apart; give one a distinct `#[room(key = \"...\")]`",
                first.to_token_stream(),
                second.to_token_stream(),
                ns.path.0,
            );
            checks.push(quote_spanned! {second.span()=>
                const _: () = ::core::assert!(
                    #p::keys_differ(<#first as #p::Room>::KEY, <#second as #p::Room>::KEY),
                    #message
                );
            });
        }
    }
    checks
}
