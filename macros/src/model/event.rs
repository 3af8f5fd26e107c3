//! `#[derive(BroadcastEvent)]` input.

use proc_macro2::Span;
use syn::{DeriveInput, Expr};

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
        Event {
            input,
            name,
            on: values.get(EventKey::On).cloned(),
            payload: values.get(EventKey::As).cloned(),
            when: values.get(EventKey::When).cloned(),
        }
    }
}
