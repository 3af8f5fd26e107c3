//! Runtime of [fast-app](https://docs.rs/fast-app): the traits the derives
//! implement, broadcast targets, the namespace registry, the server that
//! serves it on socketioxide, and the broadcasters.
//!
//! Applications depend on the `fast-app` crate, which re-exports this one
//! with the macros.

mod adapter;
mod broadcaster;
pub mod check;
pub mod contract;
mod error;
mod event;
mod layer;
pub mod metrics;
mod namespace;
mod presence;
mod protocol;
pub mod redis;
pub mod registry;
mod resume;
mod room;
mod serve;
mod server;
mod session;
mod socket_id;
mod targets;

#[doc(hidden)]
pub mod __private;

pub use adapter::ServerAdapter;
pub use broadcaster::{
    Broadcast, BroadcastFn, Broadcaster, PresenceFuture, Recorded, Recording, Transport, broadcast, presence,
};
pub use error::{
    BroadcastError, ConnectError, DeliveryError, InvalidRoomName, InvalidSocketId, MetricsError,
    PresenceError, RegistryError, ServerError, SocketIdRejection, ValidationError,
};
pub use event::BroadcastEvent;
pub use layer::ServerLayer;
pub use namespace::{Namespace, ServedRoom};
pub use presence::{
    Member, PRESENCE_JOIN, PRESENCE_LEAVE, PRESENCE_STATE, PRESENCE_UNAVAILABLE, PresenceRoom,
};
pub use resume::{DEFAULT_RESUME_WINDOW, FA_RESUMED, FA_SESSION, RESUME_AUTH};
pub use room::{Room, RoomName, SEPARATOR};
pub use serve::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_OUTBOUND_BYTES,
    DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_WRITE_STALL_TIMEOUT, Serve, serve,
};
pub use server::{
    DEFAULT_MAX_BUFFER_SIZE, DEFAULT_MAX_PAYLOAD, DEFAULT_SOCKET_IO_PATH, DEFAULT_WS_READ_BUFFER_SIZE,
    Server, ServerBuilder,
};
pub use session::Session;
pub use socket_id::{SOCKET_ID_HEADER, SocketId};
pub use targets::{DEFAULT_NAMESPACE, IntoTargets, Target, Targets};

pub use schemars;
pub use socketioxide;
