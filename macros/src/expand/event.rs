//! `impl BroadcastEvent`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::event::Event;

pub fn expand(event: &Event) -> TokenStream {
    let p = super::private();
    let ident = &event.input.ident;
    let (impl_generics, ty_generics, where_clause) = event.input.generics.split_for_impl();
    let name = &event.name.0;

    let when = event.when.as_ref().map(|when| {
        quote! {
            fn broadcast_when(&self) -> impl ::core::future::Future<Output = bool> + ::core::marker::Send {
                async move { #when }
            }
        }
    });
    let on = match &event.on {
        Some(on) => quote_spanned!(on.span()=> #p::targets(#on)),
        None => quote!(#p::targets(#name)),
    };
    let (payload, self_payload) = match &event.payload {
        // Checked where it is written: a payload must serialize and cross threads.
        Some(payload) => (quote_spanned!(payload.span()=> #p::payload(#payload)), None),
        None => (
            quote!(#p::SelfPayload::as_payload(self)),
            // The event is its own payload: one requirement, reported on the struct's name.
            Some(quote_spanned!(ident.span()=> Self: #p::SelfPayload,)),
        ),
    };
    let where_clause = match (where_clause, self_payload) {
        (Some(w), Some(extra)) => {
            let preds = &w.predicates;
            quote!(where #preds, #extra)
        }
        (None, Some(extra)) => quote!(where #extra),
        (w, None) => quote!(#w),
    };
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #p::BroadcastEvent for #ident #ty_generics #where_clause {
                const NAME: &'static str = #name;

                #when

                fn broadcast_on(&self) -> impl ::core::future::Future<Output = #p::Targets> + ::core::marker::Send {
                    async move { #on }
                }

                fn broadcast_as(&self) -> impl ::core::future::Future<Output = impl #p::serde::Serialize + ::core::marker::Send + ::core::marker::Sync> + ::core::marker::Send {
                    async move { #payload }
                }
            }
        };
    }
}
