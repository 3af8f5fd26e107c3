//! `#[derive(Room)]` input.

use proc_macro2::Span;
use syn::{Data, DeriveInput, ExprPath, Fields, Member, Type};

use crate::attr::{self, Values};
use crate::ctxt::Ctxt;
use crate::kw::{Key, RoomKey};

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
    pub presence: Option<ExprPath>,
    /// The join payload's type, for the client contract, of a room with `extract`.
    pub payload: Option<Type>,
    /// How many events each room keeps for resuming clients.
    pub history: Option<usize>,
    /// What the join payload looks like, for validation errors: `{"chat_id": <integer>}`.
    pub expected: String,
}

impl<'a> Room<'a> {
    pub fn from_input(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        super::require_struct(cx, input, "Room");
        let entries = attr::entries_of(cx, &input.attrs, RoomKey::ATTR);
        let values = Values::<RoomKey>::check(cx, entries);
        let key = values
            .lit_str(cx, RoomKey::Key)
            .map(|s| (s.value(), s.span()))
            .unwrap_or_else(|| (super::default_name(&input.ident, "_room"), input.ident.span()));
        let expected = match &input.data {
            Data::Struct(s) => super::payload::describe(&input.attrs, &s.fields),
            _ => String::new(),
        };
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
        let payload = values.get(RoomKey::Payload).and_then(|value| {
            let ty = syn::parse2::<Type>(quote::ToTokens::to_token_stream(value)).ok();
            if ty.is_none() {
                cx.error_at(value, "`payload` takes a type: `payload = MyJoinPayload` (name a generic type through a type alias)");
            }
            ty
        });
        if let (Some(ty), None) = (&payload, values.get(RoomKey::Extract)) {
            cx.error_at(
                ty,
                "`payload` names the join payload of a room with `extract`; without `extract`, the join payload is the room itself",
            );
        }
        let history = values.get(RoomKey::History).and_then(|value| {
            let count = match value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(n), ..
                }) => n.base10_parse::<usize>().ok().filter(|&n| n > 0),
                _ => None,
            };
            if count.is_none() {
                cx.error_at(
                    value,
                    "`history` takes how many events each room keeps for clients that resume, a number above 0: `history = 100`",
                );
            }
            count
        });
        Room {
            input,
            key,
            fields,
            extract: values.path(cx, RoomKey::Extract),
            can_join: values.path(cx, RoomKey::CanJoin),
            on_join: values.path(cx, RoomKey::OnJoin),
            on_leave: values.path(cx, RoomKey::OnLeave),
            presence: values.path(cx, RoomKey::Presence),
            payload,
            history,
            expected,
        }
    }
}
