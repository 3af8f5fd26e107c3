//! `impl Room`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, Fields};

use crate::model::room::Room;

pub fn expand(room: &Room) -> TokenStream {
    let p = super::private();
    let ident = &room.input.ident;
    let (impl_generics, ty_generics, where_clause) = room.input.generics.split_for_impl();
    let key = &room.key.0;
    // Locals of the generated code (see `super::local`): a user function
    // called `session` or `payload` stays reachable.
    let name = super::local("name");
    let session = super::local("session");
    let payload = super::local("payload");

    let segments = room.fields.iter().map(
        |(member, ty)| quote_spanned!(ty.span()=> <_ as #p::RoomSegment>::push_to(&self.#member, #name)?;),
    );
    let extract = match &room.extract {
        // The function's shape is checked where it is named.
        Some(path) => quote_spanned! {super::path_span(path)=>
            <_ as #p::Extract<Self>>::call(&#path, #session, #payload).await
        },
        None if room.fields.is_empty() => {
            let empty = match &room.input.data {
                Data::Struct(s) => match &s.fields {
                    Fields::Named(_) => quote!(Self {}),
                    Fields::Unnamed(_) => quote!(Self()),
                    Fields::Unit => quote!(Self),
                },
                _ => quote!(Self),
            };
            quote! {
                ::core::result::Result::map(#p::fieldless_room(&#payload), |()| #empty)
            }
        }
        // A room with fields reads them from the payload: it must derive `Deserialize`.
        None => {
            let expected = &room.expected;
            quote_spanned! {ident.span()=>
                <Self as #p::RoomPayload>::from_payload(#payload, #expected)
            }
        }
    };
    let can_join = room.can_join.as_ref().map(|path| {
        let call = quote_spanned!(super::path_span(path)=> <_ as #p::CanJoin<Self>>::call(&#path, self, #session));
        quote! {
            fn can_join(&self, #session: &#p::Session) -> impl ::core::future::Future<Output = bool> + ::core::marker::Send {
                async move { #call.await }
            }
        }
    });
    let hook = |method: TokenStream, hook: TokenStream, path: &Option<syn::ExprPath>| {
        path.as_ref().map(|path| {
            let call = quote_spanned!(super::path_span(path)=> <_ as #p::#hook<Self>>::call(&#path, self, #session));
            quote! {
                fn #method(&self, #session: &#p::Session) -> impl ::core::future::Future<Output = ()> + ::core::marker::Send {
                    async move { #call.await }
                }
            }
        })
    };
    let on_join = hook(quote!(on_join), quote!(OnJoin), &room.on_join);
    let on_leave = hook(quote!(on_leave), quote!(OnLeave), &room.on_leave);
    let (presence, presence_room) = match &room.presence {
        Some(path) => {
            let call = quote_spanned!(super::path_span(path)=> <_ as #p::ShowMember<Self>>::call(&#path, self, #session));
            let items = quote! {
                const PRESENCE: bool = true;

                fn member(&self, #session: &#p::Session) -> impl ::core::future::Future<Output = ::core::option::Option<#p::Member>> + ::core::marker::Send {
                    async move { #call.await }
                }
            };
            let marker = quote! {
                #[automatically_derived]
                impl #impl_generics #p::PresenceRoom for #ident #ty_generics #where_clause {}
            };
            (Some(items), Some(marker))
        }
        None => (None, None),
    };

    let history = room.history.map(|n| quote!(const HISTORY: usize = #n;));
    // The contract: the name's parameters, and the join payload's schema.
    let fields = room.fields.iter().map(|(member, _)| match member {
        syn::Member::Named(ident) => syn::ext::IdentExt::unraw(ident).to_string(),
        syn::Member::Unnamed(index) => index.index.to_string(),
    });
    let generator = super::local("generator");
    let join_schema = match (&room.extract, room.fields.is_empty()) {
        // What an extractor reads is its own: the `payload` type, or any JSON value.
        (Some(_), _) => room
            .payload
            .as_ref()
            .map(|ty| quote_spanned!(ty.span()=> #p::payload_schema::<#ty>(#generator))),
        (None, true) => Some(quote!(#p::fieldless_schema())),
        (None, false) => Some(quote_spanned!(ident.span()=> #p::payload_schema::<Self>(#generator))),
    }
    .map(|schema| {
        quote! {
            fn join_schema(#generator: &mut #p::SchemaGenerator) -> #p::Schema {
                let _ = &#generator;
                #schema
            }
        }
    });

    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #p::Room for #ident #ty_generics #where_clause {
                const KEY: &'static str = #key;
                const FIELDS: &'static [&'static str] = &[#(#fields),*];
                #history
                #join_schema

                fn write_name(&self, #name: &mut #p::RoomName) -> ::core::result::Result<(), #p::InvalidRoomName> {
                    let _ = &#name;
                    #(#segments)*
                    ::core::result::Result::Ok(())
                }

                fn extract(
                    #session: &#p::Session,
                    #payload: #p::serde_json::Value,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<Self, #p::ValidationError>> + ::core::marker::Send {
                    async move {
                        let _ = #session;
                        #extract
                    }
                }

                #can_join
                #on_join
                #on_leave
                #presence
            }

            #presence_room
        };
    }
}
