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
