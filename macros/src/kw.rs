//! The one place each attribute key is spelled.
//!
//! Each attribute has a key enum; models read their values by variant
//! (`values.get(RoomKey::CanJoin)`), so a misspelt key in this crate is a
//! compile error here, never a user's attribute silently ignored.

/// The keys of one attribute.
pub trait Key: Copy + Eq + 'static {
    /// The attribute's name, for messages: `room` in `#[room(...)]`.
    const ATTR: &'static str;
    /// Every key, in the order messages list them.
    const ALL: &'static [Self];
    /// The key as users write it.
    fn as_str(self) -> &'static str;

    /// The key spelt `text`, if any.
    fn from_str(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == text)
    }
}

macro_rules! keys {
    ($(#[$doc:meta])* $name:ident of $attr:literal { $($variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub enum $name {
            $($variant,)*
        }

        impl Key for $name {
            const ATTR: &'static str = $attr;
            const ALL: &'static [Self] = &[$(Self::$variant,)*];
            fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

keys! {
    /// Keys of `#[broadcast(...)]`.
    EventKey of "broadcast" {
        Name => "name",
        On => "on",
        As => "as",
        When => "when",
        Rooms => "rooms",
    }
}

keys! {
    /// Keys of `#[room(...)]`.
    RoomKey of "room" {
        Key => "key",
        Extract => "extract",
        CanJoin => "can_join",
        OnJoin => "on_join",
        OnLeave => "on_leave",
        Presence => "presence",
        Payload => "payload",
        History => "history",
    }
}

keys! {
    /// Keys of `#[namespace(...)]` after the path.
    NamespaceKey of "namespace" {
        Connect => "connect",
        Connected => "connected",
        Disconnect => "disconnect",
        Handlers => "handlers",
    }
}

/// The attribute listing a namespace's rooms, read by `#[namespace]`.
pub const ROOMS: &str = "rooms";

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
    "socket_id",
    "presence_state",
    "presence_join",
    "presence_leave",
    "fa_session",
    "fa_resumed",
];

/// `key1`, `key2` or `key3`, for messages.
pub fn list<K: Key>() -> String {
    let quoted: Vec<String> = K::ALL.iter().map(|k| format!("`{}`", k.as_str())).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_list() {
        for &k in RoomKey::ALL {
            assert_eq!(RoomKey::from_str(k.as_str()), Some(k));
        }
        assert_eq!(EventKey::from_str("as"), Some(EventKey::As));
        assert_eq!(NamespaceKey::from_str("auth"), None);
        assert_eq!(list::<EventKey>(), "`name`, `on`, `as`, `when` or `rooms`");
    }
}
