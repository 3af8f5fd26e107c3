//! The server: serves every registered namespace on socketioxide, on the
//! adapter chosen when it is built.

use std::sync::Arc;
use std::time::Duration;

use socketioxide::{ParserConfig, SocketIo, SocketIoBuilder, TransportType};

use crate::adapter::{ErasedIo, IoFamily, ServerAdapter};
use crate::broadcaster::Broadcaster;
use crate::error::ServerError;
use crate::layer::{AllowedOrigins, ServerLayer};
use crate::presence::Presence;
use crate::redis::RedisConfig;
use crate::registry::{self, NamespaceDef};
use crate::resume::{Keep, Resume};
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

/// The path Socket.IO is served at, unless [`ServerBuilder::path`] says
/// otherwise: socket.io's and socketioxide's default, where the official
/// clients look by default.
pub const DEFAULT_SOCKET_IO_PATH: &str = "/socket.io";

/// Configures and builds a [`Server`].
///
/// Each setting has a default that holds for a public server; the ones
/// fast-app changes from socketioxide's are constants of this module
/// ([`DEFAULT_MAX_BUFFER_SIZE`], [`DEFAULT_WS_READ_BUFFER_SIZE`],
/// [`DEFAULT_MAX_PAYLOAD`]). Whatever socketioxide's own builder offers
/// beyond these stays reachable through [`ServerBuilder::socketio`].
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    max_buffer_size: usize,
    ws_read_buffer_size: usize,
    ping_interval: Option<Duration>,
    ping_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    ack_timeout: Option<Duration>,
    upgrade_timeout: Option<Duration>,
    transports: Option<Vec<TransportType>>,
    path: Option<String>,
    max_payload: u64,
    max_attachments: Option<usize>,
    attachments_timeout: Option<Duration>,
    origins: Option<AllowedOrigins>,
    configure: Option<Configure>,
    install: bool,
    resume_window: Duration,
    resume_secret: Option<Vec<u8>>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
            ws_read_buffer_size: DEFAULT_WS_READ_BUFFER_SIZE,
            ping_interval: None,
            ping_timeout: None,
            connect_timeout: None,
            ack_timeout: None,
            upgrade_timeout: None,
            transports: None,
            path: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_attachments: None,
            attachments_timeout: None,
            origins: None,
            configure: None,
            install: true,
            resume_window: crate::resume::DEFAULT_RESUME_WINDOW,
            resume_secret: None,
        }
    }
}

/// A user's step over socketioxide's builder ([`ServerBuilder::socketio`]).
#[derive(Clone)]
struct Configure(Arc<dyn Fn(SocketIoBuilder) -> SocketIoBuilder + Send + Sync>);

impl std::fmt::Debug for Configure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Configure(..)")
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

    /// How long a client has, once its Engine.IO connection is open, to
    /// connect to a namespace (send CONNECT) before it is disconnected
    /// (socketioxide's default: 45 s). An open connection that never connects
    /// holds a file descriptor and a session's memory until then.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long an emit with an acknowledgement (`socket.emit_with_ack`,
    /// in a custom handler or a `connected` hook) waits for the client's
    /// answer before it resolves to a timeout error (socketioxide's default:
    /// 5 s).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = Some(timeout);
        self
    }

    /// How long a client has to finish upgrading a polling session to a
    /// websocket; past it, the session is closed and the client reconnects
    /// (socketioxide's default: 10 s).
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.upgrade_timeout = Some(timeout);
        self
    }

    /// The transports clients may use (default: both, as socket.io). With
    /// `[TransportType::Websocket]` a polling request is refused (`400`,
    /// `Transport unknown`), so clients must connect with `transports:
    /// ["websocket"]`; with `[TransportType::Polling]` a websocket request is
    /// refused the same way, and polling clients are never upgraded.
    ///
    /// ```
    /// use fast_app::socketioxide::TransportType;
    /// let builder = fast_app::Server::builder().transports([TransportType::Websocket]);
    /// ```
    ///
    /// # Panics
    ///
    /// When `transports` is empty: a server must allow at least one.
    pub fn transports<I: IntoIterator<Item = TransportType>>(mut self, transports: I) -> Self {
        let mut list: Vec<TransportType> = transports.into_iter().collect();
        assert!(
            !list.is_empty(),
            "fast-app: a server must allow at least one transport"
        );
        list.dedup_by_key(|t| *t as u8);
        self.transports = Some(list);
        self
    }

    /// The path Socket.IO is served at (default [`DEFAULT_SOCKET_IO_PATH`],
    /// `/socket.io`): requests under it go to Socket.IO, all others to the
    /// application's routes. Clients must be told the same path
    /// (socket.io-client's `path` option).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Largest message a client may send, in bytes, on either transport
    /// (default [`DEFAULT_MAX_PAYLOAD`]): a polling request's body, a
    /// websocket message, however many frames it comes in, and the binary
    /// attachments of one packet together. A websocket client that sends
    /// more is disconnected (its namespace's `disconnect`
    /// sees [`DisconnectReason::TransportError`]); the other connections are
    /// not affected. Clients learn the limit in the Engine.IO handshake
    /// (`maxPayload`).
    ///
    /// [`DisconnectReason::TransportError`]: socketioxide::socket::DisconnectReason::TransportError
    pub fn max_payload(mut self, bytes: u64) -> Self {
        self.max_payload = bytes;
        self
    }

    /// Most binary attachments one packet may announce (socketioxide's
    /// default: 10 000). A packet that announces more closes its connection.
    /// Together, a packet's attachments may not exceed
    /// [`max_payload`](Self::max_payload) bytes either: a packet with
    /// attachments is one message.
    pub fn max_attachments(mut self, count: usize) -> Self {
        self.max_attachments = Some(count);
        self
    }

    /// How long a client has to send all the attachments a packet announced
    /// before the connection is closed (socketioxide's default: 1 minute).
    pub fn attachments_timeout(mut self, timeout: Duration) -> Self {
        self.attachments_timeout = Some(timeout);
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

    /// A step over socketioxide's own builder, run after fast-app's settings,
    /// for what this builder does not name: a state for socketioxide's
    /// `State` extractor, the msgpack parser (each behind socketioxide's
    /// cargo feature of that name, which an application enables in its own
    /// manifest), or a setting socketioxide adds later. What it sets wins
    /// over fast-app's settings, so it can also undo their defaults.
    ///
    /// ```
    /// let builder = fast_app::Server::builder().socketio(|io| io.max_buffer_size(8192));
    /// ```
    pub fn socketio(
        mut self,
        configure: impl Fn(SocketIoBuilder) -> SocketIoBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Configure(Arc::new(configure)));
        self
    }

    /// Whether the server's broadcaster becomes the global one that
    /// [`broadcast`](crate::broadcast) uses (default: yes).
    pub fn install_broadcaster(mut self, install: bool) -> Self {
        self.install = install;
        self
    }

    /// How long a client may be away and still resume, and how long rooms
    /// with `#[room(history = N)]` keep their events (default
    /// [`DEFAULT_RESUME_WINDOW`](crate::DEFAULT_RESUME_WINDOW), 2 minutes).
    pub fn resume_window(mut self, window: Duration) -> Self {
        self.resume_window = window;
        self
    }

    /// The key that signs resume tokens (default: random, made at start-up:
    /// this server's on the in-process adapter; on Redis, the cluster's,
    /// made by its first server and kept in Redis, so that a client resumes
    /// on any server).
    pub fn resume_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.resume_secret = Some(secret.into());
        self
    }

    fn socketioxide_builder(&self) -> SocketIoBuilder {
        let mut builder = SocketIo::builder()
            .max_buffer_size(self.max_buffer_size)
            .ws_read_buffer_size(self.ws_read_buffer_size);
        if let Some(interval) = self.ping_interval {
            builder = builder.ping_interval(interval);
        }
        if let Some(timeout) = self.ping_timeout {
            builder = builder.ping_timeout(timeout);
        }
        if let Some(timeout) = self.connect_timeout {
            builder = builder.connect_timeout(timeout);
        }
        if let Some(timeout) = self.ack_timeout {
            builder = builder.ack_timeout(timeout);
        }
        if let Some(timeout) = self.upgrade_timeout {
            builder = builder.upgrade_timeout(timeout);
        }
        builder = match self.transports.as_deref() {
            Some(&[one]) => builder.transports([one]),
            Some(&[first, second, ..]) => builder.transports([first, second]),
            _ => builder,
        };
        if let Some(path) = &self.path {
            builder = builder.req_path(path.clone());
        }
        // One limit for both transports, and for a packet's attachments; a
        // frame cannot be larger than the message it is part of.
        let max = usize::try_from(self.max_payload).unwrap_or(usize::MAX);
        let mut parser = ParserConfig::common().max_incoming_binary_buf_size(max);
        if let Some(count) = self.max_attachments {
            parser = parser.max_incoming_binaries(count);
        }
        if let Some(timeout) = self.attachments_timeout {
            parser = parser.packet_completion_timeout(timeout);
        }
        builder = builder
            .max_payload(self.max_payload)
            .ws_max_message_size(max)
            .ws_max_frame_size(max)
            .with_parser(parser);
        match &self.configure {
            Some(Configure(configure)) => configure(builder),
            None => builder,
        }
    }

    /// Builds a single-process server on the in-process adapter, serving
    /// every registered namespace.
    pub async fn build(self) -> Result<Server, ServerError> {
        let namespaces = registry::namespaces()?;
        let (layer, io) = self.socketioxide_builder().build_layer();
        Server::serve(layer, io, namespaces, Presence::in_memory(), Keep::Memory, self).await
    }

    /// Builds a server on the Redis adapter, serving every registered
    /// namespace: broadcasts from any server of the cluster, or from a
    /// [`redis_emitter`](crate::Broadcaster::redis_emitter), reach its
    /// clients. It returns once every namespace is subscribed; an
    /// unreachable Redis is an error naming the URL.
    pub async fn build_redis(self, config: &RedisConfig) -> Result<Server, ServerError> {
        let namespaces = registry::namespaces()?;
        let (builder, driver) = redis::builder(self.socketioxide_builder(), config, false).await?;
        let (layer, io) = builder.build_layer();
        let timeout = config.presence_timeout();
        let presence = Presence::new(redis::RedisStore::server(
            driver.clone(),
            config.prefix(),
            timeout,
        ));
        let upkeep = presence.clone().maintain(io.clone(), timeout / 4);
        tracing::info!(
            url = %config.display_url(),
            prefix = config.prefix(),
            "fast-app: broadcasts shared through redis"
        );
        let keep = Keep::Redis {
            driver,
            prefix: config.prefix().to_owned(),
            buffer: config.stream_buffer(),
            url: config.display_url(),
        };
        let server = Server::serve(layer, io, namespaces, presence, keep, self).await?;
        // Once the namespaces are served: it ends when they are closed.
        tokio::spawn(upkeep);
        Ok(server)
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
        presence: Arc<Presence>,
        keep: Keep,
        builder: ServerBuilder,
    ) -> Result<Self, ServerError> {
        let resume = Resume::of(
            &namespaces,
            builder.resume_window,
            builder.resume_secret.clone(),
            keep,
        )
        .await?;
        for &def in &namespaces {
            let resume = resume.clone().filter(|resume| resume.serves(def.path));
            protocol::serve(&io, def, &presence, resume).await?;
            tracing::info!(
                namespace = def.path,
                rooms = ?def.rooms.iter().map(|r| r.key).collect::<Vec<_>>(),
                "fast-app: serving {}",
                def.type_name
            );
        }
        // Once the namespaces are served: the feeds end when they are closed.
        if let Some(resume) = &resume {
            resume.follow(&io).await?;
            tokio::spawn(resume.clone().sweep(io.clone()));
        }
        let broadcaster = Broadcaster::from_io(io.clone())
            .with_presence(presence)
            .with_resume(resume);
        if builder.install {
            broadcaster.install();
        }
        let path = io.config().engine_config.req_path.clone();
        Ok(Self {
            layer: ServerLayer::new(layer, path, builder.origins),
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
