//! The server: mounts every registered namespace on a socketioxide `SocketIo`.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::DisconnectReason;
use socketioxide::{SocketIo, SocketIoBuilder};
use socketioxide_core::adapter::DefinedAdapter;

use crate::broadcaster::Broadcaster;
use crate::error::{ConnectError, RegistryError};
use crate::layer::ServerLayer;
use crate::namespace::{HandlerTable, NamespaceDef, Refusal, RoomEntry};
use crate::redis::{RedisAdapter, RedisConfig, RedisDriver};
use crate::registry;
use crate::session::Session;

/// Packets queued per connection before socketioxide drops what follows.
///
/// socketioxide's own default (128) silently loses a burst of broadcasts to
/// a busy client; 4096 holds any burst an application plausibly sends, and
/// costs nothing while unused (the queue grows in blocks as it fills).
pub const DEFAULT_MAX_BUFFER_SIZE: usize = 4096;

/// Default size of each websocket connection's read buffer, in bytes.
///
/// socketioxide's default (4096) is allocated, and zeroed, for every
/// connection; what clients send (joins, leaves, acks) is a few dozen bytes
/// per packet, and the buffer grows for a larger frame when one comes. At
/// 10 000 connections the smaller buffer holds 30 MB less.
pub const DEFAULT_WS_READ_BUFFER_SIZE: usize = 1024;

/// Why a server could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The registered namespaces cannot be served together.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Redis could not be reached or refused the connection.
    #[error("redis at {url}: {message}")]
    Redis {
        /// The URL, without its password.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The adapter failed to initialise a namespace.
    #[error("namespace `{path}`: the adapter failed to start: {message}")]
    Adapter {
        /// The namespace path.
        path: &'static str,
        /// What the adapter said.
        message: String,
    },
}

impl ServerError {
    /// Redis at `config` failed with `error`.
    pub(crate) fn redis(config: &RedisConfig, error: impl std::fmt::Display) -> Self {
        Self::Redis {
            url: config.display_url(),
            message: error.to_string(),
        }
    }
}

/// An adapter the server can mount namespaces on.
///
/// Everything fast-app generates is generic over socketioxide's `Adapter`;
/// this trait adds what mounting needs of a concrete adapter: how it
/// finishes initialising a namespace, and which entry of a
/// [`HandlerTable`] holds its custom handlers.
pub trait ServerAdapter: Adapter + DefinedAdapter {
    /// The custom handlers of `table` for this adapter.
    fn handlers(table: &HandlerTable) -> fn(&SocketRef<Self>);

    /// Waits until a namespace's adapter is ready (subscribed, for remote adapters).
    fn ready(init: Self::InitRes) -> impl Future<Output = Result<(), String>> + Send;
}

impl ServerAdapter for LocalAdapter {
    fn handlers(table: &HandlerTable) -> fn(&SocketRef<Self>) {
        table.local
    }

    async fn ready(_init: ()) -> Result<(), String> {
        Ok(())
    }
}

impl ServerAdapter for RedisAdapter {
    fn handlers(table: &HandlerTable) -> fn(&SocketRef<Self>) {
        table.redis
    }

    async fn ready(init: Self::InitRes) -> Result<(), String> {
        init.await.map_err(|e| e.to_string())
    }
}

/// Configures and builds a [`Server`].
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    max_buffer_size: usize,
    ws_read_buffer_size: usize,
    ping_interval: Option<Duration>,
    ping_timeout: Option<Duration>,
    max_payload: Option<u64>,
    install: bool,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
            ws_read_buffer_size: DEFAULT_WS_READ_BUFFER_SIZE,
            ping_interval: None,
            ping_timeout: None,
            max_payload: None,
            install: true,
        }
    }
}

impl ServerBuilder {
    /// Packets queued per connection (default [`DEFAULT_MAX_BUFFER_SIZE`]).
    pub fn max_buffer_size(mut self, packets: usize) -> Self {
        self.max_buffer_size = packets;
        self
    }

    /// Bytes each websocket connection reads into at once (default
    /// [`DEFAULT_WS_READ_BUFFER_SIZE`]); a larger frame still arrives whole.
    pub fn ws_read_buffer_size(mut self, bytes: usize) -> Self {
        self.ws_read_buffer_size = bytes;
        self
    }

    /// Engine.IO ping interval (socketioxide's default: 25 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = Some(interval);
        self
    }

    /// Engine.IO ping timeout (socketioxide's default: 20 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = Some(timeout);
        self
    }

    /// Largest packet a client may send, in bytes (socketioxide's default: 100 kB).
    pub fn max_payload(mut self, bytes: u64) -> Self {
        self.max_payload = Some(bytes);
        self
    }

    /// Whether the server's broadcaster becomes the global one that
    /// [`broadcast`](crate::broadcast) uses (default: yes).
    pub fn install_broadcaster(mut self, install: bool) -> Self {
        self.install = install;
        self
    }

    fn socketio(&self) -> SocketIoBuilder {
        let mut builder = SocketIo::builder()
            .max_buffer_size(self.max_buffer_size)
            .ws_read_buffer_size(self.ws_read_buffer_size);
        if let Some(interval) = self.ping_interval {
            builder = builder.ping_interval(interval);
        }
        if let Some(timeout) = self.ping_timeout {
            builder = builder.ping_timeout(timeout);
        }
        if let Some(bytes) = self.max_payload {
            builder = builder.max_payload(bytes);
        }
        builder
    }

    /// Builds a single-process server on the in-process adapter, serving
    /// every registered namespace.
    pub async fn build(self) -> Result<Server, ServerError> {
        let namespaces = registry::namespaces()?;
        self.build_with(namespaces).await
    }

    /// Builds a server on the in-process adapter for the given namespaces
    /// only (checked like the registry).
    pub async fn build_with(self, namespaces: Vec<&'static NamespaceDef>) -> Result<Server, ServerError> {
        let namespaces = registry::check(namespaces)?;
        let (layer, io) = self.socketio().build_layer();
        Server::mount(layer, io, namespaces, self.install).await
    }

    /// Builds a server on the Redis adapter, serving every registered
    /// namespace: broadcasts from any server of the cluster, or from a
    /// [`redis_emitter`](crate::Broadcaster::redis_emitter), reach its
    /// clients. It returns once every namespace is subscribed; an
    /// unreachable Redis is an error naming the URL.
    pub async fn build_redis(self, config: &RedisConfig) -> Result<Server<RedisAdapter>, ServerError> {
        let namespaces = registry::namespaces()?;
        self.build_redis_with(config, namespaces).await
    }

    /// Builds a Redis-mode server for the given namespaces only.
    pub async fn build_redis_with(
        self,
        config: &RedisConfig,
        namespaces: Vec<&'static NamespaceDef>,
    ) -> Result<Server<RedisAdapter>, ServerError> {
        let namespaces = registry::check(namespaces)?;
        let driver = RedisDriver::connect(config)
            .await
            .map_err(|e| ServerError::redis(config, e))?;
        let (layer, io) = self
            .socketio()
            .with_adapter::<RedisAdapter>(crate::redis::adapter_state(driver, config))
            .build_layer();
        Server::mount(layer, io, namespaces, self.install).await
    }
}

/// A Socket.IO server serving the registered namespaces, ready to be put in
/// an axum router with [`Server::layer`].
pub struct Server<A: ServerAdapter = LocalAdapter> {
    layer: SocketIoLayer<A>,
    io: SocketIo<A>,
    broadcaster: Broadcaster,
    namespaces: Vec<&'static NamespaceDef>,
}

impl Server {
    /// A builder with fast-app's defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

impl<A: ServerAdapter> Server<A> {
    async fn mount(
        layer: SocketIoLayer<A>,
        io: SocketIo<A>,
        namespaces: Vec<&'static NamespaceDef>,
        install: bool,
    ) -> Result<Self, ServerError> {
        for &def in &namespaces {
            let rooms: Arc<[RoomEvents]> = def.rooms.iter().map(RoomEvents::new).collect();
            let handler = (async || {}).with(move |socket: SocketRef<A>, TryData(auth): TryData<Value>| {
                on_connect(def, rooms.clone(), socket, auth.unwrap_or(Value::Null))
            });
            A::ready(io.ns(def.path, handler))
                .await
                .map_err(|message| ServerError::Adapter {
                    path: def.path,
                    message,
                })?;
            tracing::info!(
                namespace = def.path,
                rooms = ?def.rooms.iter().map(|r| r.key).collect::<Vec<_>>(),
                "fast-app: serving {}",
                def.type_name
            );
        }
        let broadcaster = Broadcaster::from_io(io.clone());
        if install {
            broadcaster.install();
        }
        Ok(Self {
            layer,
            io,
            broadcaster,
            namespaces,
        })
    }

    /// The tower layer to add to an axum `Router` (`.layer(server.layer())`).
    pub fn layer(&self) -> ServerLayer<A> {
        ServerLayer::new(self.layer.clone())
    }

    /// The socketioxide handle, for everything fast-app does not wrap.
    pub fn io(&self) -> &SocketIo<A> {
        &self.io
    }

    /// This server's broadcaster.
    pub fn broadcaster(&self) -> &Broadcaster {
        &self.broadcaster
    }

    /// The namespaces it serves, in path order.
    pub fn namespaces(&self) -> &[&'static NamespaceDef] {
        &self.namespaces
    }
}

/// A room's client event names, made once per server.
struct RoomEvents {
    join: &'static str,
    leave: &'static str,
    entry: &'static RoomEntry,
}

impl RoomEvents {
    fn new(entry: &'static RoomEntry) -> Self {
        Self {
            join: intern(format!("join_{}", entry.key)),
            leave: intern(format!("leave_{}", entry.key)),
            entry,
        }
    }
}

/// A `'static` copy of `name`, made once per distinct name in the process.
fn intern(name: String) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    match names.get(name.as_str()) {
        Some(name) => name,
        None => {
            let name: &'static str = Box::leak(name.into_boxed_str());
            names.insert(name);
            name
        }
    }
}

/// The connect middleware: authenticates, then registers every handler
/// before socketioxide acknowledges the connection, so that no event the
/// client sends right after connecting finds the socket without its handler.
async fn on_connect<A: ServerAdapter>(
    def: &'static NamespaceDef,
    rooms: Arc<[RoomEvents]>,
    socket: SocketRef<A>,
    auth: Value,
) -> Result<(), ConnectError> {
    let session = Session::for_socket(socket.id, socket.ns());
    (def.connect)(&session, &auth).await?;
    socket.extensions.insert(session.clone());
    for room in rooms.iter() {
        let entry = room.entry;
        let event = room.join;
        socket.on(
            event,
            move |socket: SocketRef<A>, TryData(payload): TryData<Value>, ack: AckSender<A>| async move {
                // Any JSON reads as a `Value`: the only failure is no payload at all.
                let payload = payload.unwrap_or(Value::Null);
                let outcome = (entry.join)(&session_of(&socket), payload, &socket).await;
                reply(&socket, ack, event, "joined", outcome);
            },
        );
        let event = room.leave;
        socket.on(
            event,
            move |socket: SocketRef<A>, TryData(payload): TryData<Value>, ack: AckSender<A>| async move {
                // Any JSON reads as a `Value`: the only failure is no payload at all.
                let payload = payload.unwrap_or(Value::Null);
                let outcome = (entry.leave)(&session_of(&socket), payload, &socket).await;
                reply(&socket, ack, event, "left", outcome);
            },
        );
    }
    socket.on_disconnect(move |reason: DisconnectReason| async move {
        (def.disconnect)(&session, reason).await;
    });
    if let Some(table) = &def.handlers {
        A::handlers(table)(&socket);
    }
    Ok(())
}

fn session_of<A: Adapter>(socket: &SocketRef<A>) -> Session {
    socket.extensions.get::<Session>().unwrap_or_default()
}

/// Answers a join or leave: the outcome event, and its payload as the
/// acknowledgement when the client asked for one.
fn reply<A: Adapter>(
    socket: &SocketRef<A>,
    ack: AckSender<A>,
    request: &'static str,
    done: &'static str,
    outcome: Result<String, Refusal>,
) {
    let (event, body) = match outcome {
        Ok(room) => (done, json!({ "room": room })),
        Err(Refusal::Validation(e)) => ("error", json!({ "type": "validation_error", "msg": e.message_for(request) })),
        Err(Refusal::Forbidden(room)) => ("error", json!({ "type": "forbidden", "room": room })),
    };
    if let Err(e) = socket.emit(event, &body) {
        tracing::warn!(socket = %socket.id, event, "fast-app: reply not sent: {e}");
    }
    if let Err(e) = ack.send(&body) {
        tracing::warn!(socket = %socket.id, event, "fast-app: acknowledgement not sent: {e}");
    }
}
