//! `key = value` lists, shared by every attribute.

use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, Token};

use crate::ctxt::Ctxt;
use crate::kw;

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

/// The values of the known keys, after unknown, duplicate and empty
/// entries were reported.
pub struct Values {
    entries: Vec<(Ident, Expr)>,
}

impl Values {
    /// Checks `entries` against `valid` keys of `#[attr(...)]`.
    pub fn check(cx: &Ctxt, attr: &str, valid: &[&str], entries: Vec<Entry>) -> Self {
        let mut seen: Vec<(Ident, Expr)> = Vec::new();
        for Entry { key, value } in entries {
            let name = key.unraw().to_string();
            if !valid.contains(&name.as_str()) {
                cx.error_at(
                    &key,
                    format!(
                        "unknown key `{name}` in `#[{attr}(...)]`; expected {}",
                        kw::list(valid)
                    ),
                );
                continue;
            }
            if seen.iter().any(|(k, _)| k.unraw() == name) {
                cx.error_at(&key, format!("duplicate key `{name}` in `#[{attr}(...)]`"));
                continue;
            }
            match value {
                Some(value) => seen.push((key, value)),
                None => cx.error_at(&key, format!("missing value for `{name}`: write `{name} = ...`")),
            }
        }
        Values { entries: seen }
    }

    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&Expr> {
        self.entries
            .iter()
            .find(|(k, _)| k.unraw() == key)
            .map(|(_, v)| v)
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
pub fn lit_str(cx: &Ctxt, key: &str, value: &Expr) -> Option<syn::LitStr> {
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
pub fn path(cx: &Ctxt, key: &str, value: &Expr) -> Option<syn::ExprPath> {
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
