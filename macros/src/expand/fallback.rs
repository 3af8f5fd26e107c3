//! Stub impls emitted beside errors, so one mistake does not cascade into
//! "trait not implemented" errors wherever the type is used.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::model::namespace::Namespace;

pub fn event(input: &DeriveInput) -> TokenStream {
    let p = super::private();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #p::BroadcastEvent for #ident #ty_generics #where_clause {
                const NAME: &'static str = "";
                fn broadcast_on(&self) -> impl ::core::future::Future<Output = #p::Targets> + ::core::marker::Send {
                    async { #p::Targets::new() }
                }
                fn broadcast_as(&self) -> impl ::core::future::Future<Output = impl #p::serde::Serialize + ::core::marker::Send + ::core::marker::Sync> + ::core::marker::Send {
                    async {}
                }
            }
        };
    }
}

pub fn room(input: &DeriveInput) -> TokenStream {
    let p = super::private();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #p::Room for #ident #ty_generics #where_clause {
                const KEY: &'static str = "";
                fn write_name(&self, _: &mut #p::RoomName) -> ::core::result::Result<(), #p::InvalidRoomName> {
                    ::core::result::Result::Ok(())
                }
                fn extract(
                    _: &#p::Session,
                    _: #p::serde_json::Value,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<Self, #p::ValidationError>> + ::core::marker::Send {
                    async { ::core::result::Result::Err(#p::ValidationError::new("")) }
                }
            }
        };
    }
}

/// The item as written (without `#[rooms]`), and its rooms marked served.
pub fn namespace(ns: &Namespace) -> TokenStream {
    let item = &ns.item;
    let served = super::namespace::served_rooms(ns);
    quote! {
        #item
        const _: () = { #served };
    }
}
