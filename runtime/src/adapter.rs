//! The socketioxide adapters the runtime serves, and everything it knows of
//! each: how a namespace becomes ready, which entry of a handler table is
//! the adapter's, and how a broadcast is emitted on it.
//!
//! Everything else (the protocol, the server, the broadcaster) is generic
//! over [`ServerAdapter`], and a server chosen at run time holds its
//! socketioxide values in [`Erased`] form. Serving one more socketioxide
//! adapter (Postgres, MongoDB...) happens in this file only: one
//! `ServerAdapter` impl, one variant of [`Erased`] and its arm in
//! [`on_adapter!`], one field of [`HandlerTable`] and its line in
//! `handler_table!`.

use std::error::Error;
use std::future::Future;
use std::marker::PhantomData;
use std::task::{Context, Poll};

use axum::http::Request;
use futures_util::future::Either;
use socketioxide::layer::SocketIoLayer;
use socketioxide::service::SocketIoService;
use tower_layer::Layer;
use tower_service::Service;

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::extract::SocketRef;
use socketioxide::operators::BroadcastOperators;
use socketioxide_core::adapter::{DefinedAdapter, RoomParam};

use crate::check::BoxFuture;
use crate::error::BroadcastError;
use crate::redis::RedisAdapter;
use crate::session::Session;
use crate::socket_id::SocketId;

/// An adapter a [`Server`](crate::Server) can run on: socketioxide's
/// in-process [`LocalAdapter`] (the embedded default) and fast-app's
/// [`RedisAdapter`]. Sealed: the runtime knows what each needs.
pub trait ServerAdapter: Adapter + DefinedAdapter + sealed::Sealed {
    /// The hooks of `table` for this adapter.
    #[doc(hidden)]
    fn hooks(table: &HandlerTable) -> &Hooks<Self>;

    /// Waits until a namespace's adapter is ready (subscribed, for remote adapters).
    #[doc(hidden)]
    fn ready(init: Self::InitRes) -> impl Future<Output = Result<(), Box<dyn Error + Send + Sync>>> + Send;

    /// `value` in its adapter-erased form.
    #[doc(hidden)]
    fn erase<F: Family>(value: F::Of<Self>) -> Erased<F>;

    /// The value of `erased`, when it is of this adapter.
    #[doc(hidden)]
    fn of<F: Family>(erased: &Erased<F>) -> Option<&F::Of<Self>>;

    /// Whether the adapter also sends to other servers. socketioxide skips
    /// this server's own sockets when that fails, so [`emit`] then delivers
    /// to them itself.
    #[doc(hidden)]
    const REMOTE: bool;
}

impl ServerAdapter for LocalAdapter {
    const REMOTE: bool = false;

    fn hooks(table: &HandlerTable) -> &Hooks<Self> {
        &table.local
    }

    async fn ready(_init: ()) -> Result<(), Box<dyn Error + Send + Sync>> {
        Ok(())
    }

    fn erase<F: Family>(value: F::Of<Self>) -> Erased<F> {
        Erased::Local(value)
    }

    fn of<F: Family>(erased: &Erased<F>) -> Option<&F::Of<Self>> {
        match erased {
            Erased::Local(value) => Some(value),
            _ => None,
        }
    }
}

impl ServerAdapter for RedisAdapter {
    const REMOTE: bool = true;

    fn hooks(table: &HandlerTable) -> &Hooks<Self> {
        &table.redis
    }

    async fn ready(init: Self::InitRes) -> Result<(), Box<dyn Error + Send + Sync>> {
        Ok(init.await?)
    }

    fn erase<F: Family>(value: F::Of<Self>) -> Erased<F> {
        Erased::Redis(value)
    }

    fn of<F: Family>(erased: &Erased<F>) -> Option<&F::Of<Self>> {
        match erased {
            Erased::Redis(value) => Some(value),
            _ => None,
        }
    }
}

/// Emits `event` once to every socket of `namespace` in any of `rooms`
/// (but the socket whose public id is `except`), socketioxide serializing
/// the payload straight into the packet.
pub(crate) async fn emit<A: ServerAdapter, R, T>(
    io: &SocketIo<A>,
    namespace: &str,
    rooms: R,
    except: Option<SocketId>,
    event: &'static str,
    payload: &T,
) -> Result<(), BroadcastError>
where
    R: RoomParam + Clone,
    T: Serialize + Sync + ?Sized,
{
    let ns = served(io, namespace, event)?;
    if !A::REMOTE {
        // This server's sockets only: there is no publish that could fail.
        // Matched here rather than through `skipping`: the operators are
        // not moved through a call on the hottest path (bench/emit-cost.sh).
        let result = match except {
            None => ns.to(rooms).emit(event, payload).await,
            Some(id) => ns.to(rooms).except(id.room()).emit(event, payload).await,
        };
        return BroadcastError::from_outcome(namespace, event, result);
    }
    let to = |here_only: bool| {
        let ns = ns.clone();
        let ns = if here_only { ns.local() } else { ns };
        skipping(ns.to(rooms.clone()), except)
    };
    let result = emit_here_at_least(to, event, payload).await;
    BroadcastError::from_outcome(namespace, event, result)
}

/// Emits through `to(false)`, to every server. When the publish to the
/// other servers failed, socketioxide skips this server's own sockets too:
/// those get it through `to(true)` at least. The outcome is the first emit's.
pub(crate) async fn emit_here_at_least<A: Adapter, T: Serialize + ?Sized>(
    to: impl Fn(bool) -> BroadcastOperators<A>,
    event: &'static str,
    payload: &T,
) -> Result<(), socketioxide::BroadcastError> {
    let result = to(false).emit(event, payload).await;
    if let Err(socketioxide::BroadcastError::Adapter(_)) = &result {
        let _ = to(true).emit(event, payload).await;
    }
    result
}

/// `to`, leaving out the socket whose public id is `except`.
pub(crate) fn skipping<A: Adapter>(
    to: BroadcastOperators<A>,
    except: Option<SocketId>,
) -> BroadcastOperators<A> {
    match except {
        Some(id) => to.except(id.room()),
        None => to,
    }
}

/// The broadcast operators of `namespace`, or the error that it is not served.
#[inline]
fn served<A: Adapter>(
    io: &SocketIo<A>,
    namespace: &str,
    event: &'static str,
) -> Result<BroadcastOperators<A>, BroadcastError> {
    io.of(namespace).ok_or_else(|| BroadcastError::UnknownNamespace {
        event: event.to_owned(),
        namespace: namespace.to_owned(),
    })
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for socketioxide::adapter::LocalAdapter {}
    impl Sealed for crate::redis::RedisAdapter {}
}

/// A family of socketioxide types parameterised by the adapter, such as
/// `SocketIo<A>`: what [`Erased`] holds one of.
#[doc(hidden)]
pub trait Family {
    /// The family's type for adapter `A`.
    type Of<A: ServerAdapter>;
}

/// A value of family `F` for whichever adapter the server runs on.
#[doc(hidden)]
pub enum Erased<F: Family> {
    /// On the in-process adapter.
    Local(F::Of<LocalAdapter>),
    /// On the Redis adapter.
    Redis(F::Of<RedisAdapter>),
}

impl<F: Family> Clone for Erased<F>
where
    F::Of<LocalAdapter>: Clone,
    F::Of<RedisAdapter>: Clone,
{
    fn clone(&self) -> Self {
        match self {
            Self::Local(value) => Self::Local(value.clone()),
            Self::Redis(value) => Self::Redis(value.clone()),
        }
    }
}

/// Runs `$body` with `$value` bound to the adapter-typed value inside an
/// [`Erased`]: one statically dispatched copy of the body per adapter.
macro_rules! on_adapter {
    ($erased:expr, $value:ident => $body:expr) => {
        match $erased {
            $crate::adapter::Erased::Local($value) => $body,
            $crate::adapter::Erased::Redis($value) => $body,
        }
    };
}
pub(crate) use on_adapter;

/// `SocketIo<A>`.
#[doc(hidden)]
pub struct IoFamily;

impl Family for IoFamily {
    type Of<A: ServerAdapter> = SocketIo<A>;
}

/// A socketioxide server on whichever adapter it runs.
pub(crate) type ErasedIo = Erased<IoFamily>;

impl ErasedIo {
    /// Closes every socket at the transport, then the adapter (Redis:
    /// unsubscribes).
    pub(crate) async fn close(&self) {
        on_adapter!(self, io => io.close().await)
    }
}

/// `SocketIoLayer<A>`.
#[doc(hidden)]
pub struct LayerFamily;

impl Family for LayerFamily {
    type Of<A: ServerAdapter> = SocketIoLayer<A>;
}

/// `SocketIoService<S, A>`.
#[doc(hidden)]
pub struct ServiceFamily<S>(PhantomData<S>);

impl<S: Clone> Family for ServiceFamily<S> {
    type Of<A: ServerAdapter> = SocketIoService<S, A>;
}

type LocalService<S> = SocketIoService<S, LocalAdapter>;
type RedisService<S> = SocketIoService<S, RedisAdapter>;

impl Erased<LayerFamily> {
    /// socketioxide's service for this adapter, around `inner`.
    pub(crate) fn layer<S: Clone>(&self, inner: S) -> Erased<ServiceFamily<S>> {
        match self {
            Erased::Local(layer) => Erased::Local(layer.layer(inner)),
            Erased::Redis(layer) => Erased::Redis(layer.layer(inner)),
        }
    }
}

/// The service of whichever adapter the server runs on.
impl<S, B> Service<Request<B>> for Erased<ServiceFamily<S>>
where
    S: Clone,
    LocalService<S>: Service<Request<B>>,
    RedisService<S>: Service<
            Request<B>,
            Response = <LocalService<S> as Service<Request<B>>>::Response,
            Error = <LocalService<S> as Service<Request<B>>>::Error,
        >,
{
    type Response = <LocalService<S> as Service<Request<B>>>::Response;
    type Error = <LocalService<S> as Service<Request<B>>>::Error;
    type Future = Either<
        <LocalService<S> as Service<Request<B>>>::Future,
        <RedisService<S> as Service<Request<B>>>::Future,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        on_adapter!(self, service => service.poll_ready(cx))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match self {
            Erased::Local(service) => Either::Left(service.call(req)),
            Erased::Redis(service) => Either::Right(service.call(req)),
        }
    }
}

/// A namespace's hooks that see the socketioxide socket, one entry per
/// adapter.
///
/// Built by `#[namespace(handlers = path, connected = path)]`, through
/// `handler_table!`, from functions generic over the adapter.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct HandlerTable {
    /// For servers on the in-process adapter.
    pub local: Hooks<LocalAdapter>,
    /// For servers on the Redis adapter.
    pub redis: Hooks<RedisAdapter>,
}

/// The hooks of a namespace for adapter `A`.
#[doc(hidden)]
pub struct Hooks<A: Adapter> {
    /// `handlers = path`: registers custom handlers, before the CONNECT ack.
    pub handlers: Option<fn(&SocketRef<A>)>,
    /// `connected = path`: runs once the client is connected.
    pub connected: Option<ConnectedFn<A>>,
}

impl<A: Adapter> Clone for Hooks<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: Adapter> Copy for Hooks<A> {}

/// A `connected` hook for adapter `A`.
#[doc(hidden)]
pub type ConnectedFn<A> = for<'a> fn(&'a Session, &'a SocketRef<A>) -> BoxFuture<'a, ()>;

/// `f`, unchanged: gives a closure the signature of a [`ConnectedFn`], whose
/// future borrows its arguments.
#[doc(hidden)]
pub const fn connected_fn<A: Adapter>(f: ConnectedFn<A>) -> ConnectedFn<A> {
    f
}

/// The [`HandlerTable`] of the functions named in `#[namespace(handlers =
/// path, connected = path)]`, each generic over the adapter: one entry per
/// adapter this runtime serves. Each of `handlers: (..)` and `connected:
/// (..)` holds `_` spanned at the user's path (where a wrong shape is
/// reported) and the path, or nothing.
#[macro_export]
#[doc(hidden)]
macro_rules! __handler_table {
    (handlers: ($($handlers:tt)*), connected: ($($connected:tt)*)) => {
        $crate::__private::HandlerTable {
            local: $crate::__private::handler_table!(@hooks LocalAdapter, ($($handlers)*), ($($connected)*)),
            redis: $crate::__private::handler_table!(@hooks RedisAdapter, ($($handlers)*), ($($connected)*)),
        }
    };
    (@hooks $adapter:ident, ($($handlers:tt)*), ($($connected:tt)*)) => {
        $crate::__private::Hooks::<$crate::__private::$adapter> {
            handlers: $crate::__private::handler_table!(@handlers $adapter, $($handlers)*),
            connected: $crate::__private::handler_table!(@connected $adapter, $($connected)*),
        }
    };
    (@handlers $adapter:ident,) => {
        ::core::option::Option::None
    };
    (@handlers $adapter:ident, $infer:tt, $path:expr) => {
        ::core::option::Option::Some(
            |__fast_app_socket: &$crate::__private::SocketRef<$crate::__private::$adapter>| {
                <$infer as $crate::__private::Handlers<$crate::__private::$adapter>>::call(
                    &$path,
                    __fast_app_socket,
                )
            },
        )
    };
    (@connected $adapter:ident,) => {
        ::core::option::Option::None
    };
    (@connected $adapter:ident, $infer:tt, $path:expr) => {
        ::core::option::Option::Some($crate::__private::connected_fn::<$crate::__private::$adapter>(
            |__fast_app_session, __fast_app_socket| {
                <$infer as $crate::__private::Connected<$crate::__private::$adapter>>::call(
                    &$path,
                    __fast_app_session,
                    __fast_app_socket,
                )
            },
        ))
    };
}
