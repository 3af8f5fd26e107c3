//! Broadcast events: where, what and whether to broadcast.

use std::future::Future;

use serde::Serialize;

use crate::targets::Targets;

/// An event the server pushes to the clients in some rooms. Implement it
/// with `#[derive(BroadcastEvent)]`.
///
/// [`broadcast`](crate::broadcast) asks the event, in order: whether to send
/// it ([`broadcast_when`](Self::broadcast_when)), where
/// ([`broadcast_on`](Self::broadcast_on)), and what
/// ([`broadcast_as`](Self::broadcast_as)); each may await.
pub trait BroadcastEvent: Send + Sync {
    /// The event's wire name: what clients listen for.
    const NAME: &'static str;

    /// Whether to broadcast at all. Default: always.
    fn broadcast_when(&self) -> impl Future<Output = bool> + Send {
        async { true }
    }

    /// The rooms to broadcast to.
    fn broadcast_on(&self) -> impl Future<Output = Targets> + Send;

    /// The payload clients receive. It is serialized once per namespace,
    /// straight into the Socket.IO packet.
    fn broadcast_as(&self) -> impl Future<Output = impl Serialize + Send + Sync> + Send;
}
