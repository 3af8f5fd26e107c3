//! Broadcasters: where `broadcast(&event)` hands its emits.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use futures_util::future::join_all;
use serde::Serialize;
use serde_json::value::RawValue;
use smallvec::SmallVec;
use socketioxide::SocketIo;
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide_core::adapter::RoomParam;

use crate::error::{BroadcastError, RegistryError};
use crate::event::BroadcastEvent;
use crate::namespace::BoxFuture;
use crate::redis::{RedisAdapter, RedisConfig, RedisDriver};
use crate::registry;
use crate::server::ServerError;
use crate::targets::{Group, Rooms, Target, Targets};

/// Delivers one serialized event to rooms of one namespace.
///
/// [`Broadcaster`] drives a transport; implement it to send broadcasts
/// somewhere new.
pub trait Transport: Send + Sync + 'static {
    /// Emits `event` with `payload` (JSON) once to every socket of
    /// `namespace` that is in at least one of `rooms`.
    fn emit<'a>(
        &'a self,
        namespace: &'a str,
        rooms: Rooms,
        event: &'static str,
        payload: &'a RawValue,
    ) -> BoxFuture<'a, Result<(), BroadcastError>>;
}

impl<A: Adapter> Transport for SocketIo<A> {
    fn emit<'a>(
        &'a self,
        namespace: &'a str,
        rooms: Rooms,
        event: &'static str,
        payload: &'a RawValue,
    ) -> BoxFuture<'a, Result<(), BroadcastError>> {
        Box::pin(emit_rooms(self, namespace, rooms, event, payload))
    }
}

/// A broadcast socketioxide did not fully deliver, reported (never silent):
/// a payload that does not serialize, a failed publish, or a full per-socket queue.
fn not_delivered(namespace: &str, event: &'static str, e: socketioxide::BroadcastError) -> BroadcastError {
    if let socketioxide::BroadcastError::Serialize(e) = e {
        // Nothing was sent: the packet is built before any delivery.
        return BroadcastError::Serialize {
            event: event.to_owned(),
            source: serde::ser::Error::custom(e),
        };
    }
    tracing::warn!(namespace, event, "fast-app: broadcast not fully delivered: {e}");
    BroadcastError::Transport {
        event: event.to_owned(),
        namespace: namespace.to_owned(),
        message: e.to_string(),
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
}

/// Where a broadcaster's emits go. The two adapters a [`Server`](crate::Server)
/// runs on are driven directly, the payload serialized straight into the
/// packet; any other transport gets it as JSON through [`Transport`].
#[derive(Clone)]
enum Sender {
    Local(SocketIo<LocalAdapter>),
    Redis(SocketIo<RedisAdapter>),
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
        }
    }

    /// A broadcaster that emits through a socketioxide server, whatever its adapter.
    pub fn from_io<A: Adapter>(io: SocketIo<A>) -> Self {
        let sender = match downcast::<_, SocketIo<LocalAdapter>>(io) {
            Ok(io) => Sender::Local(io),
            Err(io) => match downcast::<_, SocketIo<RedisAdapter>>(io) {
                Ok(io) => Sender::Redis(io),
                Err(io) => Sender::Transport(Arc::new(io)),
            },
        };
        Self { sender }
    }

    /// A broadcaster for a process that runs no Socket.IO server (a
    /// background job, a worker): it publishes through Redis to every server
    /// of the cluster, and subscribes to nothing, so it neither receives the
    /// cluster's traffic nor counts as one of its servers.
    ///
    /// It emits on the namespaces registered in this program, or on `/`
    /// when none is. Install it (`.install()`) to make [`broadcast`] use it.
    pub async fn redis_emitter(config: &RedisConfig) -> Result<Self, ServerError> {
        let driver = RedisDriver::publish_only(config)
            .await
            .map_err(|e| ServerError::redis(config, e))?;
        let (_service, io) = SocketIo::builder()
            .with_adapter::<RedisAdapter>(crate::redis::adapter_state(driver, config))
            .build_svc();
        let paths: Vec<&'static str> = match registry::namespaces() {
            Ok(namespaces) => namespaces.iter().map(|ns| ns.path).collect(),
            Err(RegistryError::Empty) => vec![crate::targets::DEFAULT_NAMESPACE],
            Err(e) => return Err(e.into()),
        };
        for path in paths {
            io.ns(path, async || {}).await.map_err(|e| ServerError::Adapter {
                path,
                message: e.to_string(),
            })?;
        }
        Ok(Self::from_io(io))
    }

    /// A broadcaster that records instead of sending, and the record.
    ///
    /// ```
    /// use fast_app_runtime::{Broadcaster, Targets, BroadcastEvent};
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

    /// Broadcasts `event`: checks `when`, resolves the targets, and emits
    /// once per namespace to the union of its rooms, so a socket in several
    /// target rooms receives the event once.
    ///
    /// `Ok(false)`: skipped (`when` was false, or there was no target).
    /// `Ok(true)`: handed to the transport for every namespace. An error
    /// reports every part that failed.
    pub async fn broadcast<E: BroadcastEvent>(&self, event: &E) -> Result<bool, BroadcastError> {
        if !event.broadcast_when().await {
            return Ok(false);
        }
        let targets = match event.broadcast_on().await.into_single() {
            // One room, the common case: straight to its namespace's emit.
            Ok(target) => match &self.sender {
                Sender::Local(io) => return emit_one(io, event, target).await,
                Sender::Redis(io) => return emit_one(io, event, target).await,
                Sender::Transport(_) => Targets::from_value(target),
            },
            Err(targets) => targets,
        };
        let (groups, invalid) = targets.into_groups();
        let mut errors: Vec<BroadcastError> = invalid.into_iter().map(BroadcastError::from).collect();
        let sent = !groups.is_empty();
        if sent {
            let payload = event.broadcast_as().await;
            match &self.sender {
                Sender::Local(io) => emit_io(io, groups, E::NAME, &payload, &mut errors).await,
                Sender::Redis(io) => emit_io(io, groups, E::NAME, &payload, &mut errors).await,
                Sender::Transport(transport) => {
                    emit_json(&**transport, groups, E::NAME, &payload, &mut errors).await
                }
            }
        }
        match errors.len() {
            0 => Ok(sent),
            1 => Err(errors.remove(0)),
            _ => Err(BroadcastError::Failed(errors)),
        }
    }
}

/// Emits `event` to its one room through socketioxide.
async fn emit_one<A: Adapter, E: BroadcastEvent>(
    io: &SocketIo<A>,
    event: &E,
    Target { namespace, room }: Target,
) -> Result<bool, BroadcastError> {
    let payload = event.broadcast_as().await;
    emit_to(io, &namespace, room, E::NAME, &payload)
        .await
        .map(|()| true)
}

/// `value` as a `T`, when it is one.
fn downcast<V: 'static, T: 'static>(value: V) -> Result<T, V> {
    let mut slot = Some(value);
    match (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<T>>()
        .and_then(Option::take)
    {
        Some(value) => Ok(value),
        None => Err(slot.expect("left in place when it is not a `T`")),
    }
}

/// Emits to every group through socketioxide, which serializes the payload
/// into each namespace's packet.
async fn emit_io<A: Adapter, T: Serialize + Sync + ?Sized>(
    io: &SocketIo<A>,
    mut groups: SmallVec<[Group; 1]>,
    event: &'static str,
    payload: &T,
    errors: &mut Vec<BroadcastError>,
) {
    if groups.len() == 1
        && let Some(Group { namespace, rooms }) = groups.pop()
    {
        // The common case: one namespace, nothing to join.
        if let Err(e) = emit_rooms(io, &namespace, rooms, event, payload).await {
            errors.push(e);
        }
        return;
    }
    let emits = groups
        .into_iter()
        .map(|group| async move { emit_rooms(io, &group.namespace, group.rooms, event, payload).await });
    errors.extend(join_all(emits).await.into_iter().filter_map(Result::err));
}

/// One namespace's emit through socketioxide.
async fn emit_rooms<A: Adapter, T: Serialize + Sync + ?Sized>(
    io: &SocketIo<A>,
    namespace: &str,
    rooms: Rooms,
    event: &'static str,
    payload: &T,
) -> Result<(), BroadcastError> {
    match rooms.into_single() {
        // One room, the common case: no `Vec` to build.
        Ok(room) => emit_to(io, namespace, room, event, payload).await,
        Err(rooms) => emit_to(io, namespace, rooms.into_vec(), event, payload).await,
    }
}

async fn emit_to<A: Adapter, R: RoomParam + Clone, T: Serialize + Sync + ?Sized>(
    io: &SocketIo<A>,
    namespace: &str,
    rooms: R,
    event: &'static str,
    payload: &T,
) -> Result<(), BroadcastError> {
    let Some(ns) = io.of(namespace) else {
        return Err(BroadcastError::UnknownNamespace {
            event: event.to_owned(),
            namespace: namespace.to_owned(),
        });
    };
    if TypeId::of::<A>() == TypeId::of::<LocalAdapter>() {
        // This server's sockets only: no publish that could fail.
        let result = ns.to(rooms).emit(event, payload).await;
        return result.map_err(|e| not_delivered(namespace, event, e));
    }
    let result = ns.to(rooms.clone()).emit(event, payload).await;
    if let Err(socketioxide::BroadcastError::Adapter(_)) = &result
        && let Some(ns) = io.of(namespace)
    {
        // The publish to the other servers failed, and socketioxide then
        // skips this server's own sockets too: deliver to those at least.
        let _ = ns.local().to(rooms).emit(event, payload).await;
    }
    result.map_err(|e| not_delivered(namespace, event, e))
}

/// Serializes the payload once and hands it to `transport` for every group.
async fn emit_json<T: Serialize + ?Sized>(
    transport: &dyn Transport,
    groups: SmallVec<[Group; 1]>,
    event: &'static str,
    payload: &T,
    errors: &mut Vec<BroadcastError>,
) {
    let payload = match serde_json::value::to_raw_value(payload) {
        Ok(payload) => payload,
        Err(source) => {
            errors.push(BroadcastError::Serialize {
                event: event.to_owned(),
                source,
            });
            return;
        }
    };
    let payload = &*payload;
    let emits = groups.into_iter().map(|group| async move {
        transport
            .emit(&group.namespace, group.rooms, event, payload)
            .await
    });
    errors.extend(join_all(emits).await.into_iter().filter_map(Result::err));
}

impl fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcaster").finish_non_exhaustive()
    }
}

/// Broadcasts `event` with the current broadcaster (see [`Broadcaster::current`]).
///
/// `Ok(false)` when skipped, `Ok(true)` when handed to the transport, an
/// error when any part failed or no broadcaster is installed.
pub async fn broadcast<E: BroadcastEvent>(event: &E) -> Result<bool, BroadcastError> {
    match Broadcaster::current() {
        Some(broadcaster) => broadcaster.broadcast(event).await,
        None => Err(BroadcastError::NoBroadcaster),
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
        rooms: Rooms,
        event: &'static str,
        payload: &'a RawValue,
    ) -> BoxFuture<'a, Result<(), BroadcastError>> {
        let result = serde_json::from_str(payload.get())
            .map(|payload| {
                self.lock().push(Recorded {
                    event: event.to_owned(),
                    namespace: namespace.to_owned(),
                    rooms: rooms.into_vec(),
                    payload,
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
        assert!(matches!(Broadcaster::from_io(io).sender, Sender::Local(_)));
        let (broadcaster, _recording) = Broadcaster::recording();
        assert!(matches!(broadcaster.sender, Sender::Transport(_)));
    }

    #[test]
    fn downcast_returns_the_value_it_cannot_convert() {
        assert_eq!(downcast::<_, String>("text".to_string()), Ok("text".to_string()));
        assert_eq!(downcast::<_, String>(7_u8), Err(7_u8));
    }
}
