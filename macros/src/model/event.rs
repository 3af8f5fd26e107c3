//! `#[derive(BroadcastEvent)]` input.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::{DeriveInput, Expr, LitStr, Path, Token};

use crate::attr::{self, Values};
use crate::ctxt::Ctxt;
use crate::kw::{EventKey, Key};

/// A broadcast event as the user declared it.
pub struct Event<'a> {
    pub input: &'a DeriveInput,
    /// The wire name and where it was written (the struct name when defaulted).
    pub name: (String, Span),
    pub on: Option<Expr>,
    pub payload: Option<Expr>,
    pub when: Option<Expr>,
    /// The rooms the event can reach, for the client contract: listed with
    /// `rooms = [...]`, or read from `on`. Empty for a generic event, which
    /// the contract leaves out.
    pub reaches: Vec<Reached>,
    /// `on` says nothing of its rooms and `rooms` is missing: reported
    /// beside the rest of the expansion, so that `on`'s own checks still run
    /// in the same compile.
    pub unlisted: Option<syn::Error>,
}

/// A room an event can reach, as written.
pub enum Reached {
    /// A room type; `listed` when written in `rooms = [...]` (then it must be
    /// served), not when read from `on` (whose own check reports it).
    Type { path: Path, listed: bool },
    /// A room of `/` by name.
    Named(LitStr),
}

impl<'a> Event<'a> {
    pub fn from_input(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        super::require_struct(cx, input, "BroadcastEvent");
        let entries = attr::entries_of(cx, &input.attrs, EventKey::ATTR);
        let values = Values::<EventKey>::check(cx, entries);
        let name = values
            .lit_str(cx, EventKey::Name)
            .map(|s| (s.value(), s.span()))
            .unwrap_or_else(|| (super::default_name(&input.ident, "_event"), input.ident.span()));
        let on = values.get(EventKey::On).cloned();
        let mut unlisted = None;
        let reaches = match (values.get(EventKey::Rooms), &on) {
            (Some(rooms), _) => listed(cx, rooms),
            // A generic event has no one registration: it stays out of the contract.
            (None, _) if !input.generics.params.is_empty() => Vec::new(),
            (None, None) => vec![Reached::Named(LitStr::new(&name.0, name.1))],
            (None, Some(on)) => match inferred(on) {
                Some(reaches) => reaches,
                None => {
                    unlisted = Some(syn::Error::new_spanned(
                        on,
                        "the client contract cannot tell which rooms this `on` reaches: list them with `rooms = [...]`, e.g. `#[broadcast(on = ..., rooms = [ChatRoom, \"lobby\"])]` (room types, and names of rooms of `/`)",
                    ));
                    Vec::new()
                }
            },
        };
        Event {
            input,
            name,
            on,
            payload: values.get(EventKey::As).cloned(),
            when: values.get(EventKey::When).cloned(),
            reaches,
            unlisted,
        }
    }
}

/// `rooms = [RoomType, "name", ...]`.
fn listed(cx: &Ctxt, value: &Expr) -> Vec<Reached> {
    const USAGE: &str =
        "`rooms` takes a list of room types and names of rooms of `/`: `rooms = [ChatRoom, \"lobby\"]`";
    let Expr::Array(array) = value else {
        cx.error_at(value, USAGE);
        return Vec::new();
    };
    let mut reaches = Vec::new();
    for element in &array.elems {
        match element {
            Expr::Path(p) if p.qself.is_none() => reaches.push(Reached::Type {
                path: p.path.clone(),
                listed: true,
            }),
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => reaches.push(Reached::Named(s.clone())),
            other => cx.error_at(other, USAGE),
        }
    }
    reaches
}

/// The rooms `on` reaches, when its syntax says: a room's struct literal or
/// constructor, a unit room, a string literal, and arrays, `vec![...]`,
/// `Some(...)` and references of those.
fn inferred(on: &Expr) -> Option<Vec<Reached>> {
    let mut reaches = Vec::new();
    infer(on, &mut reaches).then_some(reaches)
}

fn infer(expr: &Expr, reaches: &mut Vec<Reached>) -> bool {
    let room = |path: &Path, reaches: &mut Vec<Reached>| {
        reaches.push(Reached::Type {
            path: path.clone(),
            listed: false,
        });
        true
    };
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => {
            reaches.push(Reached::Named(s.clone()));
            true
        }
        Expr::Struct(s) if s.qself.is_none() => room(&s.path, reaches),
        Expr::Path(p) if p.qself.is_none() && names_type(&p.path) => room(&p.path, reaches),
        Expr::Call(call) => match &*call.func {
            Expr::Path(p) if p.qself.is_none() && p.path.is_ident("Some") && call.args.len() == 1 => {
                infer(&call.args[0], reaches)
            }
            Expr::Path(p) if p.qself.is_none() && names_type(&p.path) => room(&p.path, reaches),
            _ => false,
        },
        Expr::Array(array) => array.elems.iter().all(|e| infer(e, reaches)),
        Expr::Reference(r) => infer(&r.expr, reaches),
        Expr::Paren(p) => infer(&p.expr, reaches),
        Expr::Group(g) => infer(&g.expr, reaches),
        Expr::Macro(m) if m.mac.path.is_ident("vec") => m
            .mac
            .parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
            .is_ok_and(|elems| elems.iter().all(|e| infer(e, reaches))),
        _ => false,
    }
}

/// Whether a path names a type by Rust's naming convention: its last segment
/// is in `UpperCamelCase` (`LobbyRoom`, `rooms::ChatRoom`), not a constant
/// (`LOBBY`) nor a function or variable (`lobby`).
fn names_type(path: &Path) -> bool {
    let Some(last) = path.segments.last() else {
        return false;
    };
    let name = last.ident.to_string();
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.any(|c| c.is_ascii_lowercase())
}
