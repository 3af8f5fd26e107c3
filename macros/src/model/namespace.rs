//! `#[namespace(...)]` and `#[rooms(...)]` input.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{ExprPath, ItemStruct, LitStr, Token, Type};

use crate::attr::{Entries, Values};
use crate::ctxt::Ctxt;
use crate::kw::{self, NamespaceKey};

/// A namespace as the user declared it.
pub struct Namespace {
    pub item: ItemStruct,
    /// The path and where it was written.
    pub path: (String, Span),
    pub connect: Option<ExprPath>,
    pub connected: Option<ExprPath>,
    pub disconnect: Option<ExprPath>,
    pub handlers: Option<ExprPath>,
    /// The room types of `#[rooms(...)]`.
    pub rooms: Vec<Type>,
}

/// `"/path", key = value, ...`: the path is optional and comes first.
struct Args {
    path: Option<LitStr>,
    entries: Entries,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let path = if input.peek(LitStr) {
            let path = input.parse()?;
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
            Some(path)
        } else {
            None
        };
        Ok(Args {
            path,
            entries: input.parse()?,
        })
    }
}

impl Namespace {
    /// Reads the attribute's arguments and the item, removing `#[rooms(...)]` from it.
    pub fn from_input(cx: &Ctxt, args: TokenStream, mut item: ItemStruct) -> Self {
        let (path, entries) = match syn::parse2::<Args>(args) {
            Ok(Args { path, entries }) => (path, entries.0),
            Err(e) => {
                cx.syn_error(e);
                (None, Vec::new())
            }
        };
        let path = path
            .map(|p| (p.value(), p.span()))
            .unwrap_or_else(|| ("/".to_owned(), Span::call_site()));
        let values = Values::<NamespaceKey>::check(cx, entries);
        let connect = values.path(cx, NamespaceKey::Connect);
        let connected = values.path(cx, NamespaceKey::Connected);
        let disconnect = values.path(cx, NamespaceKey::Disconnect);
        let handlers = values.path(cx, NamespaceKey::Handlers);

        let mut rooms = Vec::new();
        item.attrs.retain(|a| {
            if !a.path().is_ident(kw::ROOMS) {
                return true;
            }
            match a.parse_args_with(Punctuated::<Type, Token![,]>::parse_terminated) {
                Ok(list) => rooms.extend(list),
                Err(e) => cx.syn_error(e),
            }
            false
        });
        Namespace {
            item,
            path,
            connect,
            connected,
            disconnect,
            handlers,
            rooms,
        }
    }
}
