//! `#[derive(Room)]` input.

use proc_macro2::Span;
use syn::{Data, DeriveInput, ExprPath, Fields, Member, Type};

use crate::attr::{self, Values};
use crate::ctxt::Ctxt;
use crate::kw;

/// A room as the user declared it.
pub struct Room<'a> {
    pub input: &'a DeriveInput,
    /// The key and where it was written (the struct name when defaulted).
    pub key: (String, Span),
    /// The identifier fields, in declaration order.
    pub fields: Vec<(Member, &'a Type)>,
    pub extract: Option<ExprPath>,
    pub can_join: Option<ExprPath>,
    pub on_join: Option<ExprPath>,
    pub on_leave: Option<ExprPath>,
}

impl<'a> Room<'a> {
    pub fn from_input(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        super::require_struct(cx, input, "Room");
        let entries = attr::entries_of(cx, &input.attrs, "room");
        let values = Values::check(cx, "room", kw::ROOM, entries);
        let key = values
            .get("key")
            .and_then(|v| attr::lit_str(cx, "key", v))
            .map(|s| (s.value(), s.span()))
            .unwrap_or_else(|| (super::default_name(&input.ident, "_room"), input.ident.span()));
        let path = |key: &str| values.get(key).and_then(|v| attr::path(cx, key, v));
        let fields = match &input.data {
            Data::Struct(s) => match &s.fields {
                Fields::Named(named) => named
                    .named
                    .iter()
                    .map(|f| (Member::Named(f.ident.clone().expect("named field")), &f.ty))
                    .collect(),
                Fields::Unnamed(unnamed) => unnamed
                    .unnamed
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (Member::Unnamed(i.into()), &f.ty))
                    .collect(),
                Fields::Unit => Vec::new(),
            },
            _ => Vec::new(),
        };
        Room {
            input,
            key,
            fields,
            extract: path("extract"),
            can_join: path("can_join"),
            on_join: path("on_join"),
            on_leave: path("on_leave"),
        }
    }
}
