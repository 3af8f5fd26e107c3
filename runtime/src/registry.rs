//! The registry: what `#[namespace]` registers, every registration linked
//! into the program, and the rules they must follow together.
//!
//! A registration is data: paths, keys, names, and the type-erased
//! operations of its namespace and rooms, built and run by the runtime's
//! protocol module.

use std::fmt;

use serde_json::Value;
use socketioxide::socket::DisconnectReason;

use crate::adapter::HandlerTable;
use crate::error::{ConnectError, Refusal, RegistryError};
use crate::presence::Member;
use crate::session::Session;

pub(crate) use crate::check::BoxFuture;

/// What a room's join or leave needs of a socket, whatever its adapter.
pub(crate) trait Membership: Send + Sync {
    /// Puts the socket in `room`.
    fn join_room(&self, room: String);
    /// Takes the socket out of `room`.
    fn leave_room(&self, room: String);
}

/// A join or leave of one room type: what was done, or why it was refused.
pub(crate) type RoomOp =
    for<'a> fn(&'a Session, Value, &'a dyn Membership) -> BoxFuture<'a, Result<Done, Refusal>>;

/// A join or leave done.
pub(crate) struct Done {
    /// The room's name.
    pub room: String,
    /// Whether the room keeps presence.
    pub presence: bool,
    /// The member the joining session shows, in a room that keeps presence.
    pub member: Option<Member>,
}

/// The connect hook of a namespace.
pub(crate) type ConnectOp = for<'a> fn(&'a Session, &'a Value) -> BoxFuture<'a, Result<(), ConnectError>>;

/// The disconnect hook of a namespace.
pub(crate) type DisconnectOp = for<'a> fn(&'a Session, DisconnectReason) -> BoxFuture<'a, ()>;

/// One room type of a namespace, as registered. Built by `RoomEntry::of`.
#[derive(Clone, Copy)]
pub struct RoomEntry {
    pub(crate) key: &'static str,
    pub(crate) type_name: &'static str,
    pub(crate) join: RoomOp,
    pub(crate) leave: RoomOp,
    pub(crate) presence: bool,
    pub(crate) history: usize,
    pub(crate) fields: &'static [&'static str],
    pub(crate) join_schema: crate::contract::SchemaFn,
}

impl RoomEntry {
    /// The room's key: clients emit `join_<key>` and `leave_<key>`.
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// The room type's name, as written in `#[rooms(...)]`.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

/// A namespace as `#[namespace]` registers it. Built by `NamespaceDef::of`.
pub struct NamespaceDef {
    pub(crate) path: &'static str,
    pub(crate) type_name: &'static str,
    pub(crate) rooms: &'static [RoomEntry],
    pub(crate) connect: ConnectOp,
    pub(crate) disconnect: DisconnectOp,
    pub(crate) handlers: Option<HandlerTable>,
}

impl NamespaceDef {
    /// The namespace path, e.g. `/` or `/admin`.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The namespace type's name.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The rooms it serves, in `#[rooms(...)]` order.
    pub fn rooms(&self) -> &'static [RoomEntry] {
        self.rooms
    }
}

inventory::collect!(NamespaceDef);

/// Every namespace registered by `#[namespace]` in the crates linked into
/// this program, in path order, after checking that they can be served
/// together.
///
/// Registration goes through [`inventory`], which only sees crates that are
/// linked: a crate is linked when some code of the program names it. A
/// binary whose namespaces live in a library crate it never names must name
/// it once (`use my_app as _;`).
pub fn namespaces() -> Result<Vec<&'static NamespaceDef>, RegistryError> {
    check(inventory::iter::<NamespaceDef>.into_iter().collect())
}

/// Sorts `defs` by path and refuses an empty registry, two namespaces on
/// one path, and two rooms of one namespace with one key.
pub(crate) fn check(
    mut defs: Vec<&'static NamespaceDef>,
) -> Result<Vec<&'static NamespaceDef>, RegistryError> {
    if defs.is_empty() {
        return Err(RegistryError::Empty);
    }
    defs.sort_by_key(|def| (def.path, def.type_name));
    for pair in defs.windows(2) {
        if pair[0].path == pair[1].path {
            return Err(RegistryError::DuplicatePath {
                path: pair[0].path,
                first: pair[0].type_name,
                second: pair[1].type_name,
            });
        }
    }
    for def in &defs {
        for (i, room) in def.rooms.iter().enumerate() {
            if let Some(other) = def.rooms[..i].iter().find(|other| other.key == room.key) {
                return Err(RegistryError::DuplicateKey {
                    path: def.path,
                    key: room.key,
                    first: other.type_name,
                    second: room.type_name,
                });
            }
        }
    }
    Ok(defs)
}

impl fmt::Debug for RoomEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomEntry")
            .field("key", &self.key)
            .field("type_name", &self.type_name)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for NamespaceDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceDef")
            .field("path", &self.path)
            .field("type_name", &self.type_name)
            .field("rooms", &self.rooms)
            .field("handlers", &self.handlers.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespace::Namespace;
    use crate::{InvalidRoomName, Room, RoomName, Session, ValidationError};

    struct Root;
    impl Namespace for Root {
        const PATH: &'static str = "/";
    }

    struct A;
    struct B;
    impl Room for A {
        const KEY: &'static str = "chat";
        fn write_name(&self, _: &mut RoomName) -> Result<(), InvalidRoomName> {
            Ok(())
        }
        async fn extract(_: &Session, _: serde_json::Value) -> Result<Self, ValidationError> {
            Ok(A)
        }
    }
    impl Room for B {
        const KEY: &'static str = "chat";
        fn write_name(&self, _: &mut RoomName) -> Result<(), InvalidRoomName> {
            Ok(())
        }
        async fn extract(_: &Session, _: serde_json::Value) -> Result<Self, ValidationError> {
            Ok(B)
        }
    }

    static FIRST: NamespaceDef = NamespaceDef::of::<Root>("First", &[], None);
    static SECOND: NamespaceDef = NamespaceDef::of::<Root>("Second", &[], None);
    static SAME_KEYS: NamespaceDef = NamespaceDef::of::<Root>(
        "SameKeys",
        &[RoomEntry::of::<A>("A"), RoomEntry::of::<B>("B")],
        None,
    );

    #[test]
    fn an_empty_registry_is_refused_with_the_linking_rule() {
        let err = check(Vec::new()).unwrap_err();
        assert_eq!(err, RegistryError::Empty);
        assert!(err.to_string().contains("use my_crate as _;"), "{err}");
    }

    #[test]
    fn two_namespaces_on_one_path_are_refused() {
        let err = check(vec![&SECOND, &FIRST]).unwrap_err();
        assert_eq!(
            err,
            RegistryError::DuplicatePath {
                path: "/",
                first: "First",
                second: "Second"
            }
        );
    }

    #[test]
    fn two_rooms_with_one_key_are_refused() {
        let err = check(vec![&SAME_KEYS]).unwrap_err();
        assert!(matches!(
            err,
            RegistryError::DuplicateKey {
                key: "chat",
                first: "A",
                second: "B",
                ..
            }
        ));
    }

    #[test]
    fn a_valid_registry_is_sorted_by_path() {
        let defs = check(vec![&FIRST]).unwrap();
        assert_eq!(defs.len(), 1);
    }
}
