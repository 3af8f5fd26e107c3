//! Rules that need the whole model.

use quote::ToTokens;
use syn::spanned::Spanned;

use crate::ctxt::Ctxt;
use crate::kw;
use crate::model::event::Event;
use crate::model::namespace::Namespace;
use crate::model::room::Room;

/// An event name must be non-empty and not one the protocols reserve.
pub fn event(cx: &Ctxt, event: &Event) {
    let (name, span) = &event.name;
    if name.is_empty() {
        cx.syn_error(syn::Error::new(*span, "event `name` must not be empty"));
    } else if kw::RESERVED_EVENTS.contains(&name.as_str()) {
        cx.syn_error(syn::Error::new(
            *span,
            format!("event name `{name}` is reserved by Socket.IO or the join protocol; choose another with `name = \"...\"`"),
        ));
    }
}

/// A room key must be non-empty, free of the separator, and usable in `join_<key>`.
pub fn room(cx: &Ctxt, room: &Room) {
    let (key, span) = &room.key;
    let problem = if key.is_empty() {
        Some("must not be empty".to_owned())
    } else if key.contains('|') {
        Some("must not contain the room-name separator `|`".to_owned())
    } else if key.chars().any(char::is_whitespace) {
        Some("must not contain whitespace".to_owned())
    } else {
        None
    };
    if let Some(problem) = problem {
        cx.syn_error(syn::Error::new(
            *span,
            format!("room key `{key}` {problem}: clients join with `join_<key>`"),
        ));
    }
}

/// A namespace path is `/` or `/segment[/segment...]`, and lists each room once.
pub fn namespace(cx: &Ctxt, ns: &Namespace) {
    let (path, span) = &ns.path;
    if let Some(problem) = path_problem(path) {
        cx.syn_error(syn::Error::new(
            *span,
            format!("invalid namespace path `{path}`: {problem}; write `/` or `/name`, e.g. `#[namespace(\"/admin\")]`"),
        ));
    }
    for (i, room) in ns.rooms.iter().enumerate() {
        let text = room.to_token_stream().to_string();
        if ns.rooms[..i]
            .iter()
            .any(|r| r.to_token_stream().to_string() == text)
        {
            cx.syn_error(syn::Error::new(
                room.span(),
                format!("room `{text}` is listed twice in `#[rooms(...)]`"),
            ));
        }
    }
}

fn path_problem(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        Some("it must start with `/`")
    } else if path.len() > 1 && path.ends_with('/') {
        Some("it must not end with `/`")
    } else if path.contains("//") {
        Some("it must not contain an empty segment")
    } else if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it must not contain whitespace")
    } else if path.contains([',', '?', '#', '{', '}', '"']) {
        Some("it must not contain `,`, `?`, `#`, `{`, `}` or `\"`")
    } else {
        None
    }
}
