//! `impl BroadcastEvent`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::event::{Event, Reached};

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
    let registration = match &event.unlisted {
        Some(error) => Some(error.to_compile_error()),
        None => event
            .input
            .generics
            .params
            .is_empty()
            .then(|| registration(event)),
    };
    quote! {
        const _: () = {
            #registration

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

/// The event's registration for the client contract: its name, its payload's
/// schema and the rooms it reaches.
fn registration(event: &Event) -> TokenStream {
    let p = super::private();
    let ident = &event.input.ident;
    let name = &event.name.0;
    let type_name = ident.to_string();
    let generator = super::local("generator");
    let this = super::local("self");
    let list = super::local("reaches");
    // An `as` expression's type is inferred from a closure that is never
    // called: the expression with `self` a reference to the event.
    let schema = match &event.payload {
        Some(payload) => {
            let body = rebind_self(quote!(#payload), &this, ident);
            // Spanned at the payload, path included: a payload without a
            // schema is reported there.
            let p = respan(p.clone(), payload.span());
            quote_spanned! {payload.span()=>
                #p::payload_schema_of(|#this: &'static #ident| async move {
                    let _ = #this;
                    #body
                }, #generator)
            }
        }
        None => quote_spanned!(ident.span()=> #p::payload_schema::<#ident>(#generator)),
    };
    let reaches = event.reaches.iter().map(|reached| match reached {
        Reached::Type { path, listed: true } => {
            quote_spanned!(path.span()=> #list.push(#p::Reach::room::<#path>());)
        }
        Reached::Type { path, listed: false } => {
            quote_spanned!(path.span()=> #list.extend((&&#p::RoomProbe::<#path>::new()).reach());)
        }
        Reached::Named(room) => quote!(#list.push(#p::Reach::Named(#room));),
    });
    quote! {
        #p::inventory::submit! {
            #p::EventDef::new(
                #name,
                #type_name,
                |#generator| #schema,
                || {
                    #[allow(unused_imports)]
                    use #p::{ProbeServedRoom as _, ProbeUnservedRoom as _};
                    let mut #list = ::std::vec::Vec::new();
                    #(#reaches)*
                    #list
                },
            )
        }
    }
}

/// `tokens` with the value `self` renamed `this` and `Self` the event's type,
/// for an expression moved out of the event's methods. `self::` paths stay.
fn rebind_self(tokens: TokenStream, this: &syn::Ident, ty: &syn::Ident) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    let mut out = Vec::new();
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        out.push(match token {
            TokenTree::Ident(ident) if ident == "self" => {
                let path = matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ':');
                match path {
                    true => TokenTree::Ident(ident),
                    false => TokenTree::Ident(syn::Ident::new(&this.to_string(), this.span())),
                }
            }
            TokenTree::Ident(ident) if ident == "Self" => {
                TokenTree::Ident(syn::Ident::new(&ty.to_string(), ident.span()))
            }
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), rebind_self(group.stream(), this, ty));
                new.set_span(group.span());
                TokenTree::Group(new)
            }
            other => other,
        });
    }
    out.into_iter().collect()
}

/// `tokens`, every one of them spanned at `span`.
fn respan(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), respan(group.stream(), span));
                new.set_span(span);
                TokenTree::Group(new)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}
