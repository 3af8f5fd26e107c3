//! `key = value` lists, shared by every attribute.

use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, Token};

use crate::ctxt::Ctxt;
use crate::kw::{self, Key};

/// One `key = value` entry; `value` is `None` when the user left it out.
pub struct Entry {
    pub key: Ident,
    pub value: Option<Expr>,
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // `as` is a keyword; keys are read as any identifier.
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            if input.is_empty() || input.peek(Token![,]) {
                None
            } else {
                Some(input.parse()?)
            }
        } else {
            None
        };
        Ok(Entry { key, value })
    }
}

/// Comma-separated entries.
pub struct Entries(pub Vec<Entry>);

impl Parse for Entries {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let list = Punctuated::<Entry, Token![,]>::parse_terminated(input)?;
        Ok(Entries(list.into_iter().collect()))
    }
}

/// The values of the known keys of one attribute, after unknown, duplicate
/// and empty entries were reported.
pub struct Values<K> {
    entries: Vec<(K, Expr)>,
}

impl<K: Key> Values<K> {
    /// Checks `entries` against the keys of `#[K::ATTR(...)]`.
    pub fn check(cx: &Ctxt, entries: Vec<Entry>) -> Self {
        let attr = K::ATTR;
        let mut seen: Vec<(K, Expr)> = Vec::new();
        for Entry { key: ident, value } in entries {
            let name = ident.unraw().to_string();
            let Some(key) = K::from_str(&name) else {
                cx.error_at(
                    &ident,
                    format!(
                        "unknown key `{name}` in `#[{attr}(...)]`; expected {}",
                        kw::list::<K>()
                    ),
                );
                continue;
            };
            if seen.iter().any(|(k, _)| *k == key) {
                cx.error_at(&ident, format!("duplicate key `{name}` in `#[{attr}(...)]`"));
                continue;
            }
            match value {
                Some(value) => seen.push((key, value)),
                None => cx.error_at(
                    &ident,
                    format!("missing value for `{name}`: write `{name} = ...`"),
                ),
            }
        }
        Values { entries: seen }
    }

    /// The value of `key`, if given.
    pub fn get(&self, key: K) -> Option<&Expr> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The string literal of `key`, if given (an error on any other value).
    pub fn lit_str(&self, cx: &Ctxt, key: K) -> Option<syn::LitStr> {
        self.get(key).and_then(|v| lit_str(cx, key.as_str(), v))
    }

    /// The path of `key`, if given (an error on any other value).
    pub fn path(&self, cx: &Ctxt, key: K) -> Option<syn::ExprPath> {
        self.get(key).and_then(|v| path(cx, key.as_str(), v))
    }
}

/// Reads every `#[name(...)]` attribute of `attrs` as entries.
pub fn entries_of(cx: &Ctxt, attrs: &[Attribute], name: &str) -> Vec<Entry> {
    let mut all = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident(name)) {
        match attr.parse_args::<Entries>() {
            Ok(Entries(entries)) => all.extend(entries),
            Err(e) => cx.syn_error(e),
        }
    }
    all
}

/// A `"string"` value, or an error on the value.
fn lit_str(cx: &Ctxt, key: &str, value: &Expr) -> Option<syn::LitStr> {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.clone()),
        other => {
            cx.error_at(
                other,
                format!("`{key}` takes a string literal: `{key} = \"...\"`"),
            );
            None
        }
    }
}

/// A path value (`function` or `Self::method`), or an error on the value.
fn path(cx: &Ctxt, key: &str, value: &Expr) -> Option<syn::ExprPath> {
    match value {
        Expr::Path(p) => Some(p.clone()),
        other => {
            cx.error_at(
                other,
                format!("`{key}` takes the path of an async function: `{key} = my_function` or `{key} = Self::method`"),
            );
            None
        }
    }
}
