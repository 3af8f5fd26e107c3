//! The one place each attribute key is spelled.

/// Keys of `#[broadcast(...)]`.
pub const BROADCAST: &[&str] = &["name", "on", "as", "when"];

/// Keys of `#[room(...)]`.
pub const ROOM: &[&str] = &["key", "extract", "can_join", "on_join", "on_leave"];

/// Keys of `#[namespace(...)]` after the path.
pub const NAMESPACE: &[&str] = &["connect", "disconnect", "handlers"];

/// Event names the Socket.IO protocol or fast-app's join protocol already use.
pub const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
    "joined",
    "left",
    "error",
];

/// `key1`, `key2` and `key3`, for messages.
pub fn list(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
