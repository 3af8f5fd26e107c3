//! Broadcasters: where `broadcast(&event)` hands its emits.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};

use futures_util::future::join_all;
use serde::Serialize;
use serde_json::value::RawValue;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;

use crate::adapter::{self, ErasedIo, IoFamily, ServerAdapter, on_adapter};
use crate::check::BoxFuture;
use crate::error::{BroadcastError, PresenceError, RegistryError, ServerError};
use crate::event::BroadcastEvent;
use crate::metrics;
use crate::namespace::ServedRoom;
use crate::presence::{Member, Presence, PresenceRoom};
use crate::redis::{self, RedisConfig};
use crate::registry;
use crate::resume::{self, DEFAULT_RESUME_WINDOW, Keep, Resume};
use crate::socket_id::SocketId;
use crate::targets::{DEFAULT_NAMESPACE, Group, Target, Targets};

/// Delivers one serialized event to rooms of one namespace.
///
/// [`Broadcaster`] drives a transport; implement it to send broadcasts
/// somewhere new, and build a broadcaster on it with [`Broadcaster::new`].
pub trait Transport: Send + Sync + 'static {
    /// Emits `event` with `payload` (JSON) once to every socket of
    /// `namespace` that is in at least one of `rooms` (each listed once),
    /// but the socket whose public id is `except`.
    fn emit<'a>(
        &'a self,
        namespace: &'a str,
        rooms: Vec<String>,
        except: Option<SocketId>,
        event: &'static str,
        payload: &'a RawValue,
    ) -> Pin<Box<dyn Future<Output = Result<(), BroadcastError>> + Send + 'a>>;
}

/// Any socketioxide server, on any adapter, is a transport: the payload is
/// parsed back from JSON for it. A server of fast-app's own adapters is
/// better driven directly, with [`Broadcaster::from_io`].
impl<A: Adapter> Transport for SocketIo<A> {
    fn emit<'a>(
        &'a self,
        namespace: &'a str,
        rooms: Vec<String>,
        except: Option<SocketId>,
        event: &'static str,
        payload: &'a RawValue,
    ) -> Pin<Box<dyn Future<Output = Result<(), BroadcastError>> + Send + 'a>> {
        Box::pin(async move {
            let Some(ns) = self.of(namespace) else {
                return Err(BroadcastError::UnknownNamespace {
                    event: event.to_owned(),
                    namespace: namespace.to_owned(),
                });
            };
            let result = adapter::skipping(ns.to(rooms), except).emit(event, payload).await;
            BroadcastError::from_outcome(namespace, event, result)
        })
    }
}

/// A handle that broadcasts events: cheap to clone, shared by all clones.
///
/// A server built by [`Server::builder`](crate::Server::builder) installs its
/// broadcaster globally, so [`broadcast`] works anywhere in the program; hold
/// a `Broadcaster` to pick one explicitly, e.g. with two servers in one
/// process.
#[derive(Clone)]
pub struct Broadcaster {
    sender: Sender,
    /// The members of presence rooms, for a server's broadcaster or an emitter.
    presence: Option<Arc<Presence>>,
    /// The history of rooms that keep one, for a server's broadcaster.
    resume: Option<Arc<Resume>>,
}

/// Where a broadcaster's emits go. A server of the runtime's adapters is
/// driven directly, the payload serialized straight into each packet; any
/// other transport gets it as JSON through [`Transport`].
#[derive(Clone)]
enum Sender {
    Io(ErasedIo),
    Transport(Arc<dyn Transport>),
}

static GLOBAL: RwLock<Option<Broadcaster>> = RwLock::new(None);

tokio::task_local! {
    static SCOPED: Broadcaster;
}

impl Broadcaster {
    /// A broadcaster over any transport.
    pub fn new(transport: impl Transport) -> Self {
        Self {
            sender: Sender::Transport(Arc::new(transport)),
            presence: None,
            resume: None,
        }
    }

    /// A broadcaster that emits through a socketioxide server on one of the
    /// runtime's adapters, as the [`Server`](crate::Server) does. (A server on
    /// another adapter is a [`Transport`]: `Broadcaster::new(io)`.)
    pub fn from_io<A: ServerAdapter>(io: SocketIo<A>) -> Self {
        Self {
            sender: Sender::Io(A::erase::<IoFamily>(io)),
            presence: None,
            resume: None,
        }
    }

    /// A broadcaster for a process that runs no Socket.IO server (a
    /// background job, a worker): it publishes through Redis to every server
    /// of the cluster, and subscribes to nothing, so it neither receives the
    /// cluster's traffic nor counts as one of its servers.
    ///
    /// It emits on the namespaces registered in this program, or on `/`
    /// when none is. Install it (`.install()`) to make [`broadcast`] use it.
    pub async fn redis_emitter(config: &RedisConfig) -> Result<Self, ServerError> {
        let paths: Vec<&'static str> = match registry::namespaces() {
            Ok(namespaces) => namespaces.iter().map(|ns| ns.path()).collect(),
            Err(RegistryError::Empty) => vec![DEFAULT_NAMESPACE],
            Err(e) => return Err(e.into()),
        };
        let (builder, driver) = redis::builder(SocketIo::builder(), config, true).await?;
        let (_service, io) = builder.build_svc();
        for path in paths {
            io.ns(path, async || {}).await.map_err(|e| ServerError::Adapter {
                path,
                source: Box::new(e),
            })?;
        }
        let presence = Presence::new(redis::RedisStore::reader(driver.clone(), config.prefix()));
        // Broadcasts to rooms with history are kept as the servers keep
        // theirs, for the default window (the servers read them with theirs).
        let namespaces = registry::namespaces().unwrap_or_default();
        let keep = Keep::Redis {
            driver,
            prefix: config.prefix().to_owned(),
            buffer: config.stream_buffer(),
            url: config.display_url(),
        };
        let resume = Resume::of(&namespaces, DEFAULT_RESUME_WINDOW, None, keep).await?;
        Ok(Self::from_io(io).with_presence(presence).with_resume(resume))
    }

    /// A broadcaster that records instead of sending, and the record.
    ///
    /// ```
    /// use fast_app::{Broadcaster, Targets, BroadcastEvent};
    /// # struct Ping;
    /// # impl BroadcastEvent for Ping {
    /// #     const NAME: &'static str = "ping";
    /// #     async fn broadcast_on(&self) -> Targets { Targets::from_value("lobby") }
    /// #     async fn broadcast_as(&self) -> impl serde::Serialize { 1 }
    /// # }
    /// # tokio_test_block_on(async {
    /// let (broadcaster, recording) = Broadcaster::recording();
    /// assert!(broadcaster.broadcast(&Ping).await.unwrap());
    /// let sent = recording.take();
    /// assert_eq!(sent[0].event, "ping");
    /// assert_eq!(sent[0].rooms, ["lobby"]);
    /// assert_eq!(sent[0].payload, serde_json::json!(1));
    /// # });
    /// # fn tokio_test_block_on(f: impl std::future::Future<Output = ()>) {
    /// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    /// # }
    /// ```
    pub fn recording() -> (Self, Recording) {
        let recording = Recording::default();
        (Self::new(recording.clone()), recording)
    }

    /// This broadcaster, answering [`presence`](Self::presence) from `presence`.
    pub(crate) fn with_presence(mut self, presence: Arc<Presence>) -> Self {
        self.presence = Some(presence);
        self
    }

    pub(crate) fn with_resume(mut self, resume: Option<Arc<Resume>>) -> Self {
        self.resume = resume;
        self
    }

    /// The members of `room`, a room that keeps presence, on every server,
    /// sorted by id. A server's broadcaster and the Redis emitter answer it;
    /// other broadcasters answer [`PresenceError::NotKept`].
    pub fn presence<R: PresenceRoom + ServedRoom>(&self, room: &R) -> PresenceFuture<'_> {
        // The room is read at once: the future does not hold it (nor name its
        // type, so a room without presence is one error, at the argument).
        let name = room.name();
        Box::pin(async move {
            let presence = self.presence.as_ref().ok_or(PresenceError::NotKept)?;
            presence.members(R::NAMESPACE, &name?).await
        })
    }

    /// Makes this broadcaster the one [`broadcast`] uses, replacing any other.
    pub fn install(&self) {
        *GLOBAL.write().unwrap_or_else(|e| e.into_inner()) = Some(self.clone());
    }

    /// Runs `fut` with this broadcaster as the one [`broadcast`] uses inside
    /// it (and only inside it): tests of application code can run in
    /// parallel, each with its own recording.
    pub async fn scope<F: Future>(&self, fut: F) -> F::Output {
        SCOPED.scope(self.clone(), fut).await
    }

    /// The broadcaster [`broadcast`] would use here: the scoped one, else
    /// the installed one.
    pub fn current() -> Option<Self> {
        SCOPED
            .try_with(Clone::clone)
            .ok()
            .or_else(|| GLOBAL.read().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// Broadcasts `event` when `.await`ed: checks `when`, resolves the
    /// targets, and emits once per namespace to the union of its rooms, so a
    /// socket in several target rooms receives the event once.
    /// [`.except(id)`](Broadcast::except) first leaves out one socket.
    ///
    /// `Ok(false)`: skipped (`when` was false, or there was no target).
    /// `Ok(true)`: handed to the transport for every namespace. An error
    /// reports every part that failed.
    pub fn broadcast<'a, E: BroadcastEvent>(&'a self, event: &'a E) -> Broadcast<impl BroadcastFn + 'a> {
        Broadcast::new(move |except| async move {
            let started = metrics::broadcast_started();
            let result = self.send(event, except).await;
            metrics::broadcast_done(E::NAME, started, &result);
            result
        })
    }

    /// [`broadcast`](Self::broadcast), uncounted.
    async fn send<E: BroadcastEvent>(
        &self,
        event: &E,
        except: Option<SocketId>,
    ) -> Result<bool, BroadcastError> {
        if !event.broadcast_when().await {
            return Ok(false);
        }
        let targets = event.broadcast_on().await;
        // The one fast path: exactly one room, most events' case, goes
        // straight to its namespace's emit, without grouping, an error list
        // or a `Vec` of rooms (1.08x to 1.05x the instructions of a
        // hand-written socketioxide emit, BENCHMARKS.md).
        let targets = match (&self.sender, targets.into_single()) {
            (Sender::Io(io), Ok(Target { namespace, room }))
                if self
                    .resume
                    .as_ref()
                    .is_none_or(|resume| !resume.keeps(&namespace, &room)) =>
            {
                let payload = event.broadcast_as().await;
                return on_adapter!(io, io => adapter::emit(io, &namespace, room, except, E::NAME, &payload).await)
                    .map(|()| true);
            }
            (_, Ok(target)) => Targets::from_value(target),
            (_, Err(targets)) => targets,
        };
        // Boxed, so that the fast path's future does not carry this one's states.
        Box::pin(self.broadcast_groups(event, targets, except)).await
    }

    /// The general path: every target grouped per namespace, one emit each.
    async fn broadcast_groups<E: BroadcastEvent>(
        &self,
        event: &E,
        targets: Targets,
        except: Option<SocketId>,
    ) -> Result<bool, BroadcastError> {
        let (groups, invalid) = targets.into_groups();
        let mut errors: Vec<BroadcastError> = invalid.into_iter().map(BroadcastError::from).collect();
        let sent = !groups.is_empty();
        if sent {
            let payload = event.broadcast_as().await;
            let results = match &self.sender {
                Sender::Io(io) => {
                    let resume = self.resume.as_deref();
                    on_adapter!(io, io => emit_groups(io, resume, groups, except, E::NAME, &payload).await)
                }
                Sender::Transport(transport) => {
                    emit_json(&**transport, groups, except, E::NAME, &payload).await
                }
            };
            errors.extend(results.into_iter().filter_map(Result::err));
        }
        match errors.len() {
            0 => Ok(sent),
            1 => Err(errors.remove(0)),
            _ => Err(BroadcastError::Failed(errors)),
        }
    }
}

/// One emit per namespace through the adapter `A`, all at once.
async fn emit_groups<A: ServerAdapter, T: Serialize + Sync + ?Sized>(
    io: &SocketIo<A>,
    resume: Option<&Resume>,
    groups: Vec<Group>,
    except: Option<SocketId>,
    event: &'static str,
    payload: &T,
) -> Vec<Result<(), BroadcastError>> {
    let emits = groups.into_iter().map(|group| async move {
        // Rooms that keep history number the event and emit it themselves.
        if let Some(resume) = resume
            && let Some(result) =
                resume::emit(io, resume, &group.namespace, &group.rooms, except, event, payload).await
        {
            return result;
        }
        adapter::emit(io, &group.namespace, group.rooms, except, event, payload).await
    });
    join_all(emits).await
}

/// Serializes the payload once and hands it to `transport` for every group.
async fn emit_json<T: Serialize + ?Sized>(
    transport: &dyn Transport,
    groups: Vec<Group>,
    except: Option<SocketId>,
    event: &'static str,
    payload: &T,
) -> Vec<Result<(), BroadcastError>> {
    let payload = match serde_json::value::to_raw_value(payload) {
        Ok(payload) => payload,
        Err(source) => {
            return vec![Err(BroadcastError::Serialize {
                event: event.to_owned(),
                source,
            })];
        }
    };
    let payload = &*payload;
    let emits = groups.into_iter().map(|group| async move {
        transport
            .emit(&group.namespace, group.rooms, except, event, payload)
            .await
    });
    join_all(emits).await
}

impl fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcaster").finish_non_exhaustive()
    }
}

/// Broadcasts `event` with the current broadcaster (see
/// [`Broadcaster::current`]) when `.await`ed; [`.except(id)`](Broadcast::except)
/// first leaves out one socket.
///
/// `Ok(false)` when skipped, `Ok(true)` when handed to the transport, an
/// error when any part failed or no broadcaster is installed.
pub fn broadcast<E: BroadcastEvent>(event: &E) -> Broadcast<impl BroadcastFn + '_> {
    Broadcast::new(move |except| async move {
        match Broadcaster::current() {
            Some(broadcaster) => broadcaster.broadcast(event).except(except).await,
            None => Err(BroadcastError::NoBroadcaster),
        }
    })
}

/// The members of `room`, a room that keeps presence, from the current
/// broadcaster (see [`Broadcaster::presence`]).
///
/// ```
/// # use fast_app::prelude::*;
/// # use serde::Deserialize;
/// # #[derive(Clone, Room, Deserialize, schemars::JsonSchema)]
/// # #[room(presence = Self::member)]
/// # struct ChatRoom { chat_id: u64 }
/// # impl ChatRoom {
/// #     async fn member(&self, session: &Session) -> Option<Member> { None }
/// # }
/// # #[namespace("/")]
/// # #[rooms(ChatRoom)]
/// # struct Root;
/// # async fn run() -> Result<(), fast_app::PresenceError> {
/// let members = fast_app::presence(&ChatRoom { chat_id: 1 }).await?;
/// for member in &members {
///     println!("{} is here", member.id());
/// }
/// # Ok(()) }
/// ```
pub fn presence<R: PresenceRoom + ServedRoom>(room: &R) -> PresenceFuture<'static> {
    let name = room.name();
    Box::pin(async move {
        let broadcaster = Broadcaster::current().ok_or(PresenceError::NoBroadcaster)?;
        let presence = broadcaster.presence.as_ref().ok_or(PresenceError::NotKept)?;
        presence.members(R::NAMESPACE, &name?).await
    })
}

/// What [`presence`] and [`Broadcaster::presence`] return: a boxed future
/// of a room's members.
pub type PresenceFuture<'a> = BoxFuture<'a, Result<Vec<Member>, PresenceError>>;

/// A broadcast to send: `.await` it (it is [`IntoFuture`]), after
/// [`except`](Self::except) if one socket should not receive it.
///
/// ```
/// # use fast_app::prelude::*;
/// # use serde::Serialize;
/// # #[derive(BroadcastEvent, Serialize, schemars::JsonSchema)]
/// # #[broadcast(on = "lobby")]
/// # struct MessageSent;
/// # async fn handler(sender: Option<fast_app::SocketId>) -> Result<(), fast_app::BroadcastError> {
/// // Everyone in the lobby but the client whose request this is (its
/// // `X-Socket-ID` header, read with the `Option<SocketId>` extractor).
/// broadcast(&MessageSent).except(sender).await?;
/// // Everyone.
/// broadcast(&MessageSent).await?;
/// # Ok(()) }
/// ```
#[must_use = "a broadcast is sent when `.await`ed"]
pub struct Broadcast<F> {
    send: F,
    except: Option<SocketId>,
}

impl<F> Broadcast<F> {
    fn new(send: F) -> Self {
        Self { send, except: None }
    }

    /// Leaves out the socket whose public id is `id` (its client does not
    /// receive the event, on whichever server it is connected), or nobody
    /// when `id` is `None`: a request without `X-Socket-ID` reaches everyone.
    pub fn except(mut self, id: impl Into<Option<SocketId>>) -> Self {
        self.except = id.into();
        self
    }
}

impl<F: BroadcastFn> IntoFuture for Broadcast<F> {
    type Output = Result<bool, BroadcastError>;
    type IntoFuture = F::Future;

    fn into_future(self) -> F::Future {
        self.send.call(self.except)
    }
}

/// What a [`Broadcast`] runs when awaited, given the socket to leave out:
/// the closures [`broadcast`] and [`Broadcaster::broadcast`] make. Its
/// future is `Send`, so a broadcast can be awaited in a spawned task.
pub trait BroadcastFn: sealed::Sealed {
    /// The broadcast's future.
    type Future: Future<Output = Result<bool, BroadcastError>> + Send;

    /// Starts the broadcast.
    fn call(self, except: Option<SocketId>) -> Self::Future;
}

impl<F, Fut> BroadcastFn for F
where
    F: FnOnce(Option<SocketId>) -> Fut,
    Fut: Future<Output = Result<bool, BroadcastError>> + Send,
{
    type Future = Fut;

    fn call(self, except: Option<SocketId>) -> Fut {
        self(except)
    }
}

mod sealed {
    use super::*;

    pub trait Sealed {}
    impl<F, Fut> Sealed for F where F: FnOnce(Option<SocketId>) -> Fut {}
}

impl<F> fmt::Debug for Broadcast<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcast")
            .field("except", &self.except)
            .finish_non_exhaustive()
    }
}

/// One emit a recording broadcaster saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The event's wire name.
    pub event: String,
    /// The namespace it was emitted to.
    pub namespace: String,
    /// The rooms, each once, in target order.
    pub rooms: Vec<String>,
    /// The payload, as clients would receive it.
    pub payload: serde_json::Value,
    /// The socket left out ([`Broadcast::except`]), if any.
    pub except: Option<SocketId>,
}

/// What a recording broadcaster (see [`Broadcaster::recording`]) saw, shared by clones.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    sent: Arc<Mutex<Vec<Recorded>>>,
}

impl Recording {
    /// Every emit so far, oldest first.
    pub fn all(&self) -> Vec<Recorded> {
        self.lock().clone()
    }

    /// Every emit so far, oldest first, clearing the record.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.lock())
    }

    /// The emits of one event.
    pub fn named(&self, event: &str) -> Vec<Recorded> {
        self.lock().iter().filter(|r| r.event == event).cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Recorded>> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Transport for Recording {
    fn emit<'a>(
        &'a self,
        namespace: &'a str,
        rooms: Vec<String>,
        except: Option<SocketId>,
        event: &'static str,
        payload: &'a RawValue,
    ) -> Pin<Box<dyn Future<Output = Result<(), BroadcastError>> + Send + 'a>> {
        let result = serde_json::from_str(payload.get())
            .map(|payload| {
                self.lock().push(Recorded {
                    event: event.to_owned(),
                    namespace: namespace.to_owned(),
                    rooms,
                    payload,
                    except,
                });
            })
            .map_err(|source| BroadcastError::Serialize {
                event: event.to_owned(),
                source,
            });
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_io_is_driven_directly_and_anything_else_through_its_transport() {
        let (_layer, io) = SocketIo::new_layer();
        assert!(matches!(Broadcaster::from_io(io.clone()).sender, Sender::Io(_)));
        assert!(matches!(Broadcaster::new(io).sender, Sender::Transport(_)));
        let (broadcaster, _recording) = Broadcaster::recording();
        assert!(matches!(broadcaster.sender, Sender::Transport(_)));
    }
}
