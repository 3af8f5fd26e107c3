//! `impl Room`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::room::Room;

pub fn expand(room: &Room) -> TokenStream {
    let p = super::private();
    let ident = &room.input.ident;
    let (impl_generics, ty_generics, where_clause) = room.input.generics.split_for_impl();
    let key = &room.key.0;

    let segments = room
        .fields
        .iter()
        .map(|(member, ty)| quote_spanned!(ty.span()=> name.push(&self.#member)?;));
    let extract = match &room.extract {
        Some(path) => quote! {
            ::core::result::Result::map_err(#path(session, payload).await, ::core::convert::Into::into)
        },
        None => quote_spanned!(ident.span()=> #p::deserialize_room::<Self>(payload, "the room's fields")),
    };
    let can_join = room.can_join.as_ref().map(|path| {
        quote! {
            fn can_join(&self, session: &#p::Session) -> impl ::core::future::Future<Output = bool> + ::core::marker::Send {
                async move { #path(self, session).await }
            }
        }
    });
    let hook = |name: TokenStream, path: &Option<syn::ExprPath>| {
        path.as_ref().map(|path| {
            quote! {
                fn #name(&self, session: &#p::Session) -> impl ::core::future::Future<Output = ()> + ::core::marker::Send {
                    async move { #path(self, session).await }
                }
            }
        })
    };
    let on_join = hook(quote!(on_join), &room.on_join);
    let on_leave = hook(quote!(on_leave), &room.on_leave);

    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #p::Room for #ident #ty_generics #where_clause {
                const KEY: &'static str = #key;

                fn write_name(&self, name: &mut #p::RoomName) -> ::core::result::Result<(), #p::InvalidRoomName> {
                    #(#segments)*
                    ::core::result::Result::Ok(())
                }

                fn extract(
                    session: &#p::Session,
                    payload: #p::serde_json::Value,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<Self, #p::ValidationError>> + ::core::marker::Send {
                    async move {
                        let _ = session;
                        #extract
                    }
                }

                #can_join
                #on_join
                #on_leave
            }
        };
    }
}
