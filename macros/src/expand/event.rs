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
    // Locals of the generated code (see `super::local`).
    let targets = super::local("targets");
    let value = super::local("value");
    let room = super::local("room");
    let other = super::local("other");
    // Converted through traits, spanned at the value: a wrong target is one
    // error there. A room value is probed apart (see the runtime's `check`
    // module), so an unserved room is reported as such, naming it.
    let convert = |on: TokenStream, span: proc_macro2::Span| {
        quote_spanned! {span=>
            #[allow(unused_imports)]
            use #p::{ProbeOther as _, ProbeRoom as _};
            let #value = #on;
            let (#room, #other) = (&&#p::TargetProbe::of(&#value)).probe().split(#value);
            <_ as #p::ServedTarget>::add_served(#room, &mut #targets);
            <_ as #p::IntoTargets>::add_to(#other, &mut #targets);
        }
    };
    let on = match &event.on {
        Some(on) => convert(quote!(#on), on.span()),
        None => convert(quote!(#name), proc_macro2::Span::call_site()),
    };
    let (payload, self_payload) = match &event.payload {
        // Checked where it is written: a payload must serialize and cross threads
        // (see the runtime's `check` module for the probe).
        Some(payload) => {
            let check = quote_spanned! {payload.span()=>
                <_ as #p::AsPayload>::into_payload(
                    (&&&#p::Probe::of(&#value)).probe().wrap(#value)
                )
            };
            (
                quote! {
                    #[allow(unused_imports)]
                    use #p::{ProbeAny as _, ProbeReady as _, ProbeSerialize as _};
                    let #value = #payload;
                    #check
                },
                None,
            )
        }
        // The event is its own payload: one requirement, reported on the struct's
        // name; probed like an `as` payload, or a where clause when the event is
        // generic (the requirement may then depend on its parameters).
        None if event.input.generics.params.is_empty() => (
            {
                let check = quote_spanned! {ident.span()=>
                    <_ as #p::AsSelfPayload<Self>>::into_payload(
                        (&&&#p::Probe::of(&self)).probe().wrap(self)
                    )
                };
                quote! {
                    #[allow(unused_imports)]
                    use #p::{ProbeAny as _, ProbeReady as _, ProbeSerialize as _};
                    #check
                }
            },
            None,
        ),
        None => (
            quote!(#p::SelfPayload::as_payload(self)),
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
                    async move {
                        let mut #targets = #p::Targets::new();
                        #on
                        #targets
                    }
                }

                fn broadcast_as(&self) -> impl ::core::future::Future<Output = impl #p::serde::Serialize + ::core::marker::Send + ::core::marker::Sync> + ::core::marker::Send {
                    async move { #payload }
                }
            }
        };
    }
}
