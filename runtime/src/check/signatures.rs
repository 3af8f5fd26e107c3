//! The function shapes each attribute key accepts.
//!
//! Generated code calls a user's function through one of these traits,
//! `<_ as CanJoin<Room>>::call(&path, ...)`, spanned at the path. A function
//! of the wrong shape is then one error on the path, in fast-app's words and
//! quoting the expected signature: the blanket impls carry
//! `#[diagnostic::do_not_recommend]`, so rustc reports the trait below and
//! not whichever bound inside it failed, and `call` returns a boxed future,
//! so the failure cannot resurface as a second error on a return type.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::DisconnectReason;

use crate::error::{ConnectError, ValidationError};
use crate::presence::Member;
use crate::session::Session;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// `Self` called with `(A, B)` returns a `Send` future that may borrow `'a`:
/// what an `async fn` of two arguments is, named for one lifetime so that
/// `for<'a> AsyncFn2<'a, &'a R, &'a Session>` covers futures borrowing both.
pub trait AsyncFn2<'a, A, B>: Fn(A, B) -> <Self as AsyncFn2<'a, A, B>>::Fut {
    /// The returned future.
    type Fut: Future<Output = Self::Out> + Send + 'a;
    /// What the future resolves to.
    type Out;
}

impl<'a, A, B, F, Fut> AsyncFn2<'a, A, B> for F
where
    F: Fn(A, B) -> Fut,
    Fut: Future + Send + 'a,
{
    type Fut = Fut;
    type Out = Fut::Output;
}

/// `can_join = path`.
#[diagnostic::on_unimplemented(
    message = "`can_join` must be `async fn(&{R}, &Session) -> bool`",
    label = "expected `async fn(&{R}, &Session) -> bool`",
    note = "the guard gets the parsed room and the joining socket's session, e.g. `async fn can_join(&self, session: &Session) -> bool` in `impl {R}`",
    note = "its future must be `Send`: hold nothing that is not `Send` (an `Rc`, a `RefCell` borrow) across an `.await`"
)]
pub trait CanJoin<R> {
    /// Runs the guard.
    fn call<'a>(&self, room: &'a R, session: &'a Session) -> BoxFuture<'a, bool>;
}

#[diagnostic::do_not_recommend]
impl<R: 'static, F> CanJoin<R> for F
where
    F: for<'a> AsyncFn2<'a, &'a R, &'a Session, Out = bool>,
{
    fn call<'a>(&self, room: &'a R, session: &'a Session) -> BoxFuture<'a, bool> {
        Box::pin(self(room, session))
    }
}

/// `on_join = path`.
#[diagnostic::on_unimplemented(
    message = "`on_join` must be `async fn(&{R}, &Session)`",
    label = "expected `async fn(&{R}, &Session)`",
    note = "the hook gets the joined room and the socket's session, e.g. `async fn joined(&self, session: &Session)` in `impl {R}`",
    note = "its future must be `Send`: hold nothing that is not `Send` (an `Rc`, a `RefCell` borrow) across an `.await`"
)]
pub trait OnJoin<R> {
    /// Runs the hook.
    fn call<'a>(&self, room: &'a R, session: &'a Session) -> BoxFuture<'a, ()>;
}

#[diagnostic::do_not_recommend]
impl<R: 'static, F> OnJoin<R> for F
where
    F: for<'a> AsyncFn2<'a, &'a R, &'a Session, Out = ()>,
{
    fn call<'a>(&self, room: &'a R, session: &'a Session) -> BoxFuture<'a, ()> {
        Box::pin(self(room, session))
    }
}

/// `on_leave = path`.
#[diagnostic::on_unimplemented(
    message = "`on_leave` must be `async fn(&{R}, &Session)`",
    label = "expected `async fn(&{R}, &Session)`",
    note = "the hook gets the left room and the socket's session, e.g. `async fn left(&self, session: &Session)` in `impl {R}`",
    note = "its future must be `Send`: hold nothing that is not `Send` (an `Rc`, a `RefCell` borrow) across an `.await`"
)]
pub trait OnLeave<R> {
    /// Runs the hook.
    fn call<'a>(&self, room: &'a R, session: &'a Session) -> BoxFuture<'a, ()>;
}

#[diagnostic::do_not_recommend]
impl<R: 'static, F> OnLeave<R> for F
where
    F: for<'a> AsyncFn2<'a, &'a R, &'a Session, Out = ()>,
{
    fn call<'a>(&self, room: &'a R, session: &'a Session) -> BoxFuture<'a, ()> {
        Box::pin(self(room, session))
    }
}

/// `presence = path`.
#[diagnostic::on_unimplemented(
    message = "`presence` must be `async fn(&{R}, &Session) -> Option<Member>`",
    label = "expected `async fn(&{R}, &Session) -> Option<Member>`",
    note = "it derives what the room's members see of the joining session's user, e.g. `async fn member(&self, session: &Session) -> Option<Member>` in `impl {R}`; `None` joins without showing a member",
    note = "its future must be `Send`: hold nothing that is not `Send` (an `Rc`, a `RefCell` borrow) across an `.await`"
)]
pub trait ShowMember<R> {
    /// Derives the member.
    fn call<'a>(&self, room: &'a R, session: &'a Session) -> BoxFuture<'a, Option<Member>>;
}

#[diagnostic::do_not_recommend]
impl<R: 'static, F> ShowMember<R> for F
where
    F: for<'a> AsyncFn2<'a, &'a R, &'a Session, Out = Option<Member>>,
{
    fn call<'a>(&self, room: &'a R, session: &'a Session) -> BoxFuture<'a, Option<Member>> {
        Box::pin(self(room, session))
    }
}

/// What an `extract` function may return: the room, or an error that
/// converts into a [`ValidationError`].
pub trait ExtractOutput<R> {
    /// The room, or the refusal.
    fn into_room(self) -> Result<R, ValidationError>;
}

impl<R, E: Into<ValidationError>> ExtractOutput<R> for Result<R, E> {
    fn into_room(self) -> Result<R, ValidationError> {
        self.map_err(Into::into)
    }
}

/// `extract = path`.
#[diagnostic::on_unimplemented(
    message = "`extract` must be `async fn(&Session, serde_json::Value) -> Result<{R}, E>`",
    label = "expected `async fn(&Session, serde_json::Value) -> Result<{R}, E>` with `E: Into<ValidationError>`",
    note = "`extract` builds the room from the session and the raw join payload (`Null` when the client sent none); an `Err` is sent to the client as a validation error",
    note = "its future must be `Send`: hold nothing that is not `Send` (an `Rc`, a `RefCell` borrow) across an `.await`"
)]
pub trait Extract<R> {
    /// Builds the room.
    fn call<'a>(&self, session: &'a Session, payload: Value) -> BoxFuture<'a, Result<R, ValidationError>>;
}

#[diagnostic::do_not_recommend]
impl<R, F> Extract<R> for F
where
    F: for<'a> AsyncFn2<'a, &'a Session, Value>,
    for<'a> <F as AsyncFn2<'a, &'a Session, Value>>::Out: ExtractOutput<R>,
{
    fn call<'a>(&self, session: &'a Session, payload: Value) -> BoxFuture<'a, Result<R, ValidationError>> {
        let future = self(session, payload);
        Box::pin(async move { future.await.into_room() })
    }
}

/// What a `connect` function may return: `Ok(())`, or an error that
/// converts into a [`ConnectError`].
pub trait ConnectOutput {
    /// Accepted, or the refusal.
    fn into_outcome(self) -> Result<(), ConnectError>;
}

impl<E: Into<ConnectError>> ConnectOutput for Result<(), E> {
    fn into_outcome(self) -> Result<(), ConnectError> {
        self.map_err(Into::into)
    }
}

/// `connect = path`.
#[diagnostic::on_unimplemented(
    message = "`connect` must be `async fn(&Session, &serde_json::Value) -> Result<(), E>`",
    label = "expected `async fn(&Session, &serde_json::Value) -> Result<(), E>` with `E: Into<ConnectError>`",
    note = "`connect` reads the client's `auth` payload (`Null` when none was sent) and stores what it learns in the session; an `Err` refuses the connection",
    note = "its future must be `Send`: hold nothing that is not `Send` (an `Rc`, a `RefCell` borrow) across an `.await`"
)]
pub trait Connect {
    /// Runs the connect policy.
    fn call<'a>(&self, session: &'a Session, auth: &'a Value) -> BoxFuture<'a, Result<(), ConnectError>>;
}

#[diagnostic::do_not_recommend]
impl<F> Connect for F
where
    F: for<'a> AsyncFn2<'a, &'a Session, &'a Value>,
    for<'a> <F as AsyncFn2<'a, &'a Session, &'a Value>>::Out: ConnectOutput,
{
    fn call<'a>(&self, session: &'a Session, auth: &'a Value) -> BoxFuture<'a, Result<(), ConnectError>> {
        let future = self(session, auth);
        Box::pin(async move { future.await.into_outcome() })
    }
}

/// `disconnect = path`.
#[diagnostic::on_unimplemented(
    message = "`disconnect` must be `async fn(&Session, DisconnectReason)`",
    label = "expected `async fn(&Session, DisconnectReason)`",
    note = "`DisconnectReason` is `fast_app::socketioxide::socket::DisconnectReason`",
    note = "its future must be `Send`: hold nothing that is not `Send` (an `Rc`, a `RefCell` borrow) across an `.await`"
)]
pub trait Disconnect {
    /// Runs the disconnect hook.
    fn call<'a>(&self, session: &'a Session, reason: DisconnectReason) -> BoxFuture<'a, ()>;
}

#[diagnostic::do_not_recommend]
impl<F> Disconnect for F
where
    F: for<'a> AsyncFn2<'a, &'a Session, DisconnectReason, Out = ()>,
{
    fn call<'a>(&self, session: &'a Session, reason: DisconnectReason) -> BoxFuture<'a, ()> {
        Box::pin(self(session, reason))
    }
}

/// `connected = path`, for one adapter.
#[diagnostic::on_unimplemented(
    message = "`connected` must be `async fn<A: Adapter>(&Session, &SocketRef<A>)`",
    label = "expected `async fn<A: Adapter>(&Session, &SocketRef<A>)`",
    note = "the hook runs once the client is connected, whatever the adapter, and may emit to it, e.g. `async fn welcome<A: Adapter>(session: &Session, socket: &SocketRef<A>) {{ let _ = socket.emit(\"welcome\", &\"hello\"); }}`",
    note = "its future must be `Send`: hold nothing that is not `Send` (an `Rc`, a `RefCell` borrow) across an `.await`"
)]
pub trait Connected<A: Adapter> {
    /// Runs the hook.
    fn call<'a>(&self, session: &'a Session, socket: &'a SocketRef<A>) -> BoxFuture<'a, ()>;
}

#[diagnostic::do_not_recommend]
impl<A: Adapter, F> Connected<A> for F
where
    F: for<'a> AsyncFn2<'a, &'a Session, &'a SocketRef<A>, Out = ()>,
{
    fn call<'a>(&self, session: &'a Session, socket: &'a SocketRef<A>) -> BoxFuture<'a, ()> {
        Box::pin(self(session, socket))
    }
}

/// `handlers = path`, for one adapter.
#[diagnostic::on_unimplemented(
    message = "`handlers` must be `fn<A: Adapter>(&SocketRef<A>)`",
    label = "expected `fn<A: Adapter>(&SocketRef<A>)`",
    note = "the function registers custom handlers on every connecting socket, whatever the adapter, e.g. `fn custom<A: Adapter>(socket: &SocketRef<A>) {{ socket.on(\"ping\", async || {{}}); }}`"
)]
pub trait Handlers<A: Adapter> {
    /// Registers the handlers on `socket`.
    fn call(&self, socket: &SocketRef<A>);
}

#[diagnostic::do_not_recommend]
impl<A: Adapter, F: Fn(&SocketRef<A>)> Handlers<A> for F {
    fn call(&self, socket: &SocketRef<A>) {
        self(socket)
    }
}
