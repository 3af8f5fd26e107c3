//! The server: serves every registered namespace on socketioxide, on the
//! adapter chosen when it is built.

use std::time::Duration;

use socketioxide::{SocketIo, SocketIoBuilder};

use crate::adapter::{ErasedIo, IoFamily, ServerAdapter};
use crate::broadcaster::Broadcaster;
use crate::error::ServerError;
use crate::layer::{AllowedOrigins, ServerLayer};
use crate::redis::RedisConfig;
use crate::registry::{self, NamespaceDef};
use crate::{protocol, redis};

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

/// Default largest message a client may send, in bytes, on either transport.
///
/// What fast-app's clients send (joins, leaves, acknowledgements) is a few
/// dozen bytes; a custom handler that takes uploads raises it with
/// [`ServerBuilder::max_payload`]. It is socketioxide's own polling limit
/// (100 kB), which its handshake already advertises to clients, now applied
/// to websocket messages too (socketioxide's websocket defaults are 64 MiB a
/// message, 16 MiB a frame): it bounds what one connection can make the
/// server hold to a tenth of socket.io's `maxHttpBufferSize` (1 MB), which is
/// sized for applications that upload through their events.
pub const DEFAULT_MAX_PAYLOAD: u64 = 100_000;

/// Configures and builds a [`Server`].
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    max_buffer_size: usize,
    ws_read_buffer_size: usize,
    ping_interval: Option<Duration>,
    ping_timeout: Option<Duration>,
    max_payload: u64,
    origins: Option<AllowedOrigins>,
    install: bool,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
            ws_read_buffer_size: DEFAULT_WS_READ_BUFFER_SIZE,
            ping_interval: None,
            ping_timeout: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
            origins: None,
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

    /// Largest message a client may send, in bytes, on either transport
    /// (default [`DEFAULT_MAX_PAYLOAD`]): a polling request's body, and a
    /// websocket message, however many frames it comes in. A websocket
    /// client that sends more is disconnected (its namespace's `disconnect`
    /// sees [`DisconnectReason::TransportError`]); the other connections are
    /// not affected. Clients learn the limit in the Engine.IO handshake
    /// (`maxPayload`).
    ///
    /// [`DisconnectReason::TransportError`]: socketioxide::socket::DisconnectReason::TransportError
    pub fn max_payload(mut self, bytes: u64) -> Self {
        self.max_payload = bytes;
        self
    }

    /// The only origins whose pages may open a Socket.IO connection, each
    /// `scheme://host[:port]` (`https://app.example.com`,
    /// `http://localhost:5173`; the host's case and a default port do not
    /// matter). Default: any origin, as socket.io's own default.
    ///
    /// A request whose `Origin` header is not one of them is refused with
    /// `403` before socketioxide sees it, on both transports; a request
    /// without `Origin` (a client that is not a browser) is served. Polling
    /// from an allowed origin gets the CORS headers it needs, credentials
    /// included. An application that authenticates its sockets by cookie
    /// should set it: see "Origins" in the guide.
    pub fn allowed_origins<I: IntoIterator<Item = impl Into<String>>>(mut self, origins: I) -> Self {
        self.origins = Some(AllowedOrigins::new(origins));
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
        // One limit for both transports; a frame cannot be larger than the
        // message it is part of.
        let ws_max = usize::try_from(self.max_payload).unwrap_or(usize::MAX);
        builder
            .max_payload(self.max_payload)
            .ws_max_message_size(ws_max)
            .ws_max_frame_size(ws_max)
    }

    /// Builds a single-process server on the in-process adapter, serving
    /// every registered namespace.
    pub async fn build(self) -> Result<Server, ServerError> {
        let namespaces = registry::namespaces()?;
        let (layer, io) = self.socketio().build_layer();
        Server::serve(layer, io, namespaces, self).await
    }

    /// Builds a server on the Redis adapter, serving every registered
    /// namespace: broadcasts from any server of the cluster, or from a
    /// [`redis_emitter`](crate::Broadcaster::redis_emitter), reach its
    /// clients. It returns once every namespace is subscribed; an
    /// unreachable Redis is an error naming the URL.
    pub async fn build_redis(self, config: &RedisConfig) -> Result<Server, ServerError> {
        let namespaces = registry::namespaces()?;
        let (layer, io) = redis::builder(self.socketio(), config, false)
            .await?
            .build_layer();
        tracing::info!(
            url = %config.display_url(),
            prefix = config.prefix(),
            "fast-app: broadcasts shared through redis"
        );
        Server::serve(layer, io, namespaces, self).await
    }

    /// Builds the server the environment asks for: on Redis when
    /// `REDIS_SOCKETIO_URL` is set (see [`RedisConfig::from_env`] for the
    /// other variables), else on the in-process adapter. One code path for
    /// both, chosen at run time:
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), fast_app::ServerError> {
    /// let server = fast_app::Server::builder().build_from_env().await?;
    /// let app: axum::Router = axum::Router::new().layer(server.layer());
    /// # Ok(()) }
    /// ```
    pub async fn build_from_env(self) -> Result<Server, ServerError> {
        match std::env::var_os("REDIS_SOCKETIO_URL").filter(|url| !url.is_empty()) {
            Some(_) => self.build_redis(&RedisConfig::from_env()).await,
            None => self.build().await,
        }
    }
}

/// A Socket.IO server serving the registered namespaces, ready to be put in
/// an axum router with [`Server::layer`].
///
/// The server is the same type on every adapter, so an application picks
/// in-process or Redis at run time ([`ServerBuilder::build_from_env`]) with
/// one code path.
pub struct Server {
    layer: ServerLayer,
    io: ErasedIo,
    broadcaster: Broadcaster,
    namespaces: Vec<&'static NamespaceDef>,
}

impl Server {
    /// A builder with fast-app's defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    async fn serve<A: ServerAdapter>(
        layer: socketioxide::layer::SocketIoLayer<A>,
        io: SocketIo<A>,
        namespaces: Vec<&'static NamespaceDef>,
        builder: ServerBuilder,
    ) -> Result<Self, ServerError> {
        for &def in &namespaces {
            protocol::serve(&io, def).await?;
            tracing::info!(
                namespace = def.path,
                rooms = ?def.rooms.iter().map(|r| r.key).collect::<Vec<_>>(),
                "fast-app: serving {}",
                def.type_name
            );
        }
        let broadcaster = Broadcaster::from_io(io.clone());
        if builder.install {
            broadcaster.install();
        }
        Ok(Self {
            layer: ServerLayer::new(layer, builder.origins),
            io: A::erase::<IoFamily>(io),
            broadcaster,
            namespaces,
        })
    }

    /// The tower layer to add to an axum `Router` (`.layer(server.layer())`).
    /// It keeps alive all it serves: the `Server` may be dropped after.
    pub fn layer(&self) -> ServerLayer {
        self.layer.clone()
    }

    /// The socketioxide handle, for everything fast-app does not wrap, when
    /// the server runs on adapter `A`:
    /// `server.io::<LocalAdapter>()` or `server.io::<RedisAdapter>()`.
    pub fn io<A: ServerAdapter>(&self) -> Option<&SocketIo<A>> {
        A::of(&self.io)
    }

    /// The socketioxide server, adapter-erased, for serving and shutdown.
    pub(crate) fn erased_io(&self) -> ErasedIo {
        self.io.clone()
    }

    /// Whether the server runs on the Redis adapter.
    pub fn is_redis(&self) -> bool {
        self.io::<crate::redis::RedisAdapter>().is_some()
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

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("redis", &self.is_redis())
            .field("namespaces", &self.namespaces)
            .finish_non_exhaustive()
    }
}
