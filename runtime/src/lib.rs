//! Runtime of [fast-app](https://docs.rs/fast-app): the traits the derives
//! implement, broadcast targets, the namespace registry, the server that
//! mounts it on socketioxide, and the broadcasters.
//!
//! Applications depend on the `fast-app` crate, which re-exports this one
//! with the macros.

mod broadcaster;
pub mod check;
mod error;
mod event;
mod layer;
mod namespace;
pub mod redis;
pub mod registry;
mod room;
mod server;
mod session;
mod targets;

#[doc(hidden)]
pub mod __private;

pub use broadcaster::{Broadcaster, Recorded, Recording, Transport, broadcast};
pub use error::{BroadcastError, ConnectError, InvalidRoomName, RegistryError, ValidationError};
pub use event::BroadcastEvent;
pub use layer::{CompactHead, ServerLayer};
pub use namespace::{
    BoxFuture, ConnectOp, DisconnectOp, HandlerTable, Membership, Namespace, NamespaceDef, Refusal,
    RoomEntry, RoomOp, ServedRoom,
};
pub use room::{Room, RoomName, SEPARATOR};
pub use server::{
    DEFAULT_MAX_BUFFER_SIZE, DEFAULT_WS_READ_BUFFER_SIZE, Server, ServerAdapter, ServerBuilder, ServerError,
};
pub use session::Session;
pub use targets::{DEFAULT_NAMESPACE, IntoTargets, Rooms, RoomsIntoIter, Target, Targets};

pub use socketioxide;
