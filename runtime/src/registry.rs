//! The namespaces linked into the program, and the rules they must follow together.

use crate::error::RegistryError;
use crate::namespace::NamespaceDef;

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
pub fn check(mut defs: Vec<&'static NamespaceDef>) -> Result<Vec<&'static NamespaceDef>, RegistryError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespace::{Namespace, RoomEntry};
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
