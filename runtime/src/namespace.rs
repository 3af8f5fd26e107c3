//! Namespaces: the rooms they serve, their connect policy, their registration.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::DisconnectReason;

use crate::error::{ConnectError, ValidationError};
use crate::room::Room;
use crate::session::Session;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A room type tied to the namespace that serves it, by `#[rooms(...)]`.
///
/// Only a served room can be a broadcast target: its namespace is where the
/// event is emitted.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not served by any namespace",
    label = "no namespace lists `{Self}` in `#[rooms(...)]`",
    note = "add `{Self}` to `#[rooms(...)]` on the namespace that should serve it, e.g. `#[namespace(\"/\")] #[rooms({Self})]`"
)]
pub trait ServedRoom {
    /// The path of the serving namespace.
    const NAMESPACE: &'static str;
}

/// A namespace's connection policy. Implemented by `#[namespace(...)]`.
pub trait Namespace: Send + Sync + 'static {
    /// The namespace path, e.g. `/` or `/admin`.
    const PATH: &'static str;

    /// Authenticates a connecting client from its `auth` payload (`Null` when
    /// it sent none). An error refuses the connection: the client receives
    /// `connect_error` with the message. Default: accept everyone.
    fn connect(session: &Session, auth: &Value) -> impl Future<Output = Result<(), ConnectError>> + Send {
        let _ = (session, auth);
        async { Ok(()) }
    }

    /// Runs when a connected client goes away.
    fn disconnect(session: &Session, reason: DisconnectReason) -> impl Future<Output = ()> + Send {
        let _ = (session, reason);
        async {}
    }
}

/// What a join or leave request was refused for.
#[derive(Debug)]
pub enum Refusal {
    /// The payload did not describe a room: `{"type":"validation_error","msg":...}`.
    Validation(ValidationError),
    /// The guard said no: `{"type":"forbidden","room":name}`.
    Forbidden(String),
}

/// Socket operations a room's join and leave need, whatever the adapter.
pub trait Membership: Send + Sync {
    /// Puts the socket in `room`.
    fn join_room(&self, room: String);
    /// Takes the socket out of `room`.
    fn leave_room(&self, room: String);
}

impl<A: socketioxide::adapter::Adapter> Membership for SocketRef<A> {
    fn join_room(&self, room: String) {
        self.join(room);
    }

    fn leave_room(&self, room: String) {
        self.leave(room);
    }
}

/// A join or leave of one room type, erased over the type.
pub type RoomOp =
    for<'a> fn(&'a Session, Value, &'a dyn Membership) -> BoxFuture<'a, Result<String, Refusal>>;

/// One room type of a namespace, as the registry holds it.
#[derive(Clone, Copy)]
pub struct RoomEntry {
    /// The room's key.
    pub key: &'static str,
    /// The room type's name, for messages.
    pub type_name: &'static str,
    /// Extract, guard, join, `on_join`; returns the room name.
    pub join: RoomOp,
    /// Extract, leave, `on_leave`; returns the room name.
    pub leave: RoomOp,
}

impl RoomEntry {
    /// The entry of room type `R`.
    pub const fn of<R: Room>(type_name: &'static str) -> Self {
        Self {
            key: R::KEY,
            type_name,
            join: join_room::<R>,
            leave: leave_room::<R>,
        }
    }
}

fn join_room<'a, R: Room>(
    session: &'a Session,
    payload: Value,
    socket: &'a dyn Membership,
) -> BoxFuture<'a, Result<String, Refusal>> {
    Box::pin(async move {
        let room = R::extract(session, payload).await.map_err(Refusal::Validation)?;
        let name = room.name().map_err(|e| Refusal::Validation(e.into()))?;
        if !room.can_join(session).await {
            return Err(Refusal::Forbidden(name));
        }
        socket.join_room(name.clone());
        room.on_join(session).await;
        Ok(name)
    })
}

fn leave_room<'a, R: Room>(
    session: &'a Session,
    payload: Value,
    socket: &'a dyn Membership,
) -> BoxFuture<'a, Result<String, Refusal>> {
    Box::pin(async move {
        let room = R::extract(session, payload).await.map_err(Refusal::Validation)?;
        let name = room.name().map_err(|e| Refusal::Validation(e.into()))?;
        socket.leave_room(name.clone());
        room.on_leave(session).await;
        Ok(name)
    })
}

/// A namespace's custom event handlers, one entry per adapter the runtime serves.
///
/// Built by `#[namespace(handlers = path)]` from a function generic over the
/// adapter: `fn path<A: Adapter>(socket: &SocketRef<A>)`.
#[derive(Clone, Copy)]
pub struct HandlerTable {
    /// For servers on the in-process adapter.
    pub local: fn(&SocketRef<LocalAdapter>),
    /// For servers on the Redis adapter.
    pub redis: fn(&SocketRef<crate::redis::RedisAdapter>),
}

/// The connect hook of a namespace, erased over its type.
pub type ConnectOp = for<'a> fn(&'a Session, &'a Value) -> BoxFuture<'a, Result<(), ConnectError>>;

/// The disconnect hook of a namespace, erased over its type.
pub type DisconnectOp = for<'a> fn(&'a Session, DisconnectReason) -> BoxFuture<'a, ()>;

/// A namespace as the registry holds it. `#[namespace]` submits one.
pub struct NamespaceDef {
    /// The namespace path.
    pub path: &'static str,
    /// The namespace type's name, for messages.
    pub type_name: &'static str,
    /// The rooms it serves.
    pub rooms: &'static [RoomEntry],
    /// Its connect hook.
    pub connect: ConnectOp,
    /// Its disconnect hook.
    pub disconnect: DisconnectOp,
    /// Its custom event handlers, if any.
    pub handlers: Option<HandlerTable>,
}

impl NamespaceDef {
    /// The definition of namespace type `N`.
    pub const fn of<N: Namespace>(
        type_name: &'static str,
        rooms: &'static [RoomEntry],
        handlers: Option<HandlerTable>,
    ) -> Self {
        Self {
            path: N::PATH,
            type_name,
            rooms,
            connect: connect_op::<N>,
            disconnect: disconnect_op::<N>,
            handlers,
        }
    }
}

fn connect_op<'a, N: Namespace>(
    session: &'a Session,
    auth: &'a Value,
) -> BoxFuture<'a, Result<(), ConnectError>> {
    Box::pin(N::connect(session, auth))
}

fn disconnect_op<'a, N: Namespace>(session: &'a Session, reason: DisconnectReason) -> BoxFuture<'a, ()> {
    Box::pin(N::disconnect(session, reason))
}

inventory::collect!(NamespaceDef);

impl std::fmt::Debug for RoomEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomEntry")
            .field("key", &self.key)
            .field("type_name", &self.type_name)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for NamespaceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamespaceDef")
            .field("path", &self.path)
            .field("type_name", &self.type_name)
            .field("rooms", &self.rooms)
            .field("handlers", &self.handlers.is_some())
            .finish_non_exhaustive()
    }
}
