//! Namespaces: their connect policy, and the rooms they serve.

use std::future::Future;

use serde_json::Value;
use socketioxide::socket::DisconnectReason;

use crate::error::ConnectError;
use crate::session::Session;

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
