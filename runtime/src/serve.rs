//! Serving an application: the accept loop, its timeouts and connection
//! limit, and shutdown on SIGTERM or SIGINT.
//!
//! `axum::serve` has no header-read timeout, so a connection that never
//! finishes a request head holds a file descriptor for ever. This loop
//! serves each connection with hyper's HTTP/1 server (Socket.IO clients
//! speak HTTP/1.1, and upgrade to websocket on it) with a header-read
//! timeout, and closes at once a connection over the optional limit.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower_service::Service;

use crate::Server;
use crate::adapter::ErasedIo;
use crate::error::Throttle;

mod body;
mod outbound;

use outbound::{Limits, Outbound};

/// Default of [`Serve::header_read_timeout`]: 10 s.
///
/// A client sends a request head in one or two packets; ten seconds is
/// ample on a slow mobile link, and bounds what a connection that never
/// finishes its head (or sends nothing, or idles between requests) costs.
/// Node's `headersTimeout` is 60 s, hyper's default 30 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default of [`Serve::body_read_timeout`]: 30 s.
///
/// What Socket.IO clients post (polling packets, at most
/// [`max_payload`](crate::ServerBuilder::max_payload)) arrives in
/// milliseconds; thirty seconds leaves room for an application's own
/// uploads on a slow link, and bounds what a client that announces a body
/// and stops sending costs. Node's `requestTimeout` (head and body) is 300 s.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Default of [`Serve::max_outbound_bytes`]: 4 MiB.
///
/// What a connection may owe its client beyond what the kernel's socket
/// buffer holds (itself up to a few MB). It holds any plausible burst, 40
/// messages at the default [`max_payload`](crate::ServerBuilder::max_payload)
/// or 40 000 chat lines, and bounds what a client that stops reading costs
/// the server; socketioxide's packet queue alone would hold up to
/// [`max_buffer_size`](crate::ServerBuilder::max_buffer_size) packets of any
/// size (400 MB of 100 kB messages).
pub const DEFAULT_MAX_OUTBOUND_BYTES: usize = 4 << 20;

/// Default of [`Serve::write_stall_timeout`]: 30 s.
///
/// A client whose connection takes no byte for this long while the server
/// owes it some has stopped reading, or its network is gone; Engine.IO's own
/// heartbeat cannot tell, as its pings wait in the same backlog.
pub const DEFAULT_WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Default of [`Serve::shutdown_timeout`]: 10 s, well inside the 30 s a
/// container orchestrator waits after SIGTERM before it kills.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` (with [`Server::layer`] in it) on `listener` until
/// SIGTERM or SIGINT, then shuts down gracefully; `.await` it.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let server = fast_app::Server::builder().build_from_env().await?;
/// let app = axum::Router::new().layer(server.layer());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// fast_app::serve(listener, app, &server).await?;
/// # Ok(()) }
/// ```
///
/// Shutdown, in order: stop accepting (the listener is closed, so new
/// connections go to another server); tell every HTTP connection to close
/// once its request in flight is answered; close every Socket.IO
/// connection at the transport level, so the official clients reconnect by
/// themselves, and leave the adapters (Redis: unsubscribe); wait for the
/// HTTP connections. All of it within [`Serve::shutdown_timeout`], or until
/// a second signal; then the future returns `Ok(())`, and `main` exits 0.
///
/// Handlers may extract the peer's address, `ConnectInfo<SocketAddr>`.
pub fn serve(listener: TcpListener, router: Router, server: &Server) -> Serve {
    let io = server.erased_io();
    Serve {
        listener,
        router,
        io,
        header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        max_connections: None,
        outbound: Limits {
            max_bytes: DEFAULT_MAX_OUTBOUND_BYTES,
            stall: DEFAULT_WRITE_STALL_TIMEOUT,
        },
        shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        signal: None,
    }
}

/// The serving future [`serve`] returns: configure it, then `.await` it.
#[must_use = "a Serve does nothing until it is awaited"]
pub struct Serve {
    listener: TcpListener,
    router: Router,
    io: ErasedIo,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    max_connections: Option<usize>,
    outbound: Limits,
    shutdown_timeout: Duration,
    signal: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl Serve {
    /// How long a connection may take to send a request head (default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`]). It runs from the moment the server
    /// waits for a head: on a new connection, and between the requests of
    /// a kept-alive one, so it is also the idle timeout of a connection
    /// before its Socket.IO handshake. Past it, the connection is closed.
    /// A connection upgraded to websocket is Engine.IO's to watch (pings).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a request may take to send its body, from the end of its
    /// head (default [`DEFAULT_BODY_READ_TIMEOUT`]). Past it, reading the
    /// body fails (the handler sees an error; an extractor answers 400) and
    /// the connection is closed. Raise it for routes that take large
    /// uploads.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// At most `connections` open at once, websockets included (default:
    /// no limit). A connection over the limit is closed as soon as it is
    /// accepted, as Node's `maxConnections` does: waiting would hold its
    /// file descriptor anyway, while a closed one lets the client, or a
    /// load balancer, try elsewhere. Set it below the process's file limit
    /// (`ulimit -n`), leaving room for Redis and files.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = Some(connections);
        self
    }

    /// The most a connection may owe its client, in bytes, beyond what the
    /// kernel's socket buffer took (default [`DEFAULT_MAX_OUTBOUND_BYTES`]).
    ///
    /// A client that stops reading (a paused tab, a stalled network, an
    /// attacker) makes the server hold every packet sent to it. Past this
    /// bound it is a slow consumer: its connection is closed, its client
    /// reconnects (and resyncs, as after any reconnect), and every other
    /// socket keeps receiving; broadcasts to it do not fail. One write
    /// larger than the bound, when nothing else is owed, is still accepted.
    /// With it, [`ServerBuilder::max_buffer_size`](crate::ServerBuilder::max_buffer_size)
    /// bounds the packets queued before this backlog, for a polling client
    /// above all (Engine.IO closes one whose queue is full at its next ping).
    pub fn max_outbound_bytes(mut self, bytes: usize) -> Self {
        self.outbound.max_bytes = bytes;
        self
    }

    /// How long a connection may take no byte of what it owes before it
    /// is closed as a slow consumer (default [`DEFAULT_WRITE_STALL_TIMEOUT`]).
    pub fn write_stall_timeout(mut self, timeout: Duration) -> Self {
        self.outbound.stall = timeout;
        self
    }

    /// The bound on shutdown, from the signal to the return (default
    /// [`DEFAULT_SHUTDOWN_TIMEOUT`]); connections still open then are
    /// dropped.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Shuts down when `signal` completes, instead of on SIGTERM or SIGINT.
    pub fn with_shutdown_signal(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.signal = Some(Box::pin(signal));
        self
    }

    /// The address it listens on (the port chosen for `:0`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    async fn run(self) -> io::Result<()> {
        let Serve {
            listener,
            router,
            io,
            header_read_timeout,
            body_read_timeout,
            max_connections,
            outbound,
            shutdown_timeout,
            signal,
        } = self;
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout);
        let limit = max_connections.map(|n| Arc::new(Semaphore::new(n)));
        // Each connection holds a receiver: it learns of shutdown from it,
        // and the sender sees them all gone when every connection is.
        let (stop, _) = watch::channel(Phase::Serving);
        let on_signals = signal.is_none();
        let mut signal = signal.unwrap_or_else(|| Box::pin(terminate()));
        let mut refused = Refused::default();

        loop {
            let (stream, peer) = tokio::select! {
                () = &mut signal => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        accept_error(e).await;
                        continue;
                    }
                },
            };
            let permit = match &limit {
                None => None,
                Some(limit) => match limit.clone().try_acquire_owned() {
                    Ok(permit) => Some(permit),
                    Err(_) => {
                        refused.record(peer);
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let mut request =
                    request.map(|b| axum::body::Body::new(body::Timed::new(b, body_read_timeout)));
                // What `into_make_service_with_connect_info` gives under axum::serve.
                request.extensions_mut().insert(ConnectInfo(peer));
                let mut router = router.clone();
                async move { router.call(request).await }
            });
            let connection = http
                .serve_connection(
                    TokioIo::new(Outbound::new(stream, peer, outbound, permit)),
                    service,
                )
                .with_upgrades();
            let mut phase = stop.subscribe();
            tokio::spawn(async move {
                let mut connection = std::pin::pin!(connection);
                let result = tokio::select! {
                    result = connection.as_mut() => result,
                    () = until(&mut phase, |phase| phase != Phase::Serving) => {
                        connection.as_mut().graceful_shutdown();
                        tokio::select! {
                            result = connection.as_mut() => result,
                            () = until(&mut phase, |phase| phase == Phase::Dropping) => return,
                        }
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "fast-app: connection closed");
                }
            });
        }

        drop(listener);
        tracing::info!("fast-app: shutting down: no longer accepting connections");
        let shutdown = async {
            // Socket.IO first: a pending long-poll is answered with the
            // close packet before its HTTP connection is told to close.
            io.close().await;
            tracing::info!("fast-app: Socket.IO connections closed");
            stop.send_replace(Phase::Draining);
            stop.closed().await;
        };
        // A second SIGTERM or SIGINT cuts the wait short.
        let again = async {
            if on_signals {
                terminate().await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            () = shutdown => {}
            () = tokio::time::sleep(shutdown_timeout) => tracing::warn!(
                connections = stop.receiver_count(),
                "fast-app: shutdown took over {shutdown_timeout:?}; dropping what is still open"
            ),
            () = again => tracing::warn!(
                connections = stop.receiver_count(),
                "fast-app: second signal; dropping what is still open"
            ),
        }
        stop.send_replace(Phase::Dropping);
        tracing::info!("fast-app: shut down");
        Ok(())
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl std::fmt::Debug for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_outbound_bytes", &self.outbound.max_bytes)
            .field("write_stall_timeout", &self.outbound.stall)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

/// What the connections are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Close once the request in flight is answered.
    Draining,
    /// Close now: the shutdown's bound is reached.
    Dropping,
}

/// Until the phase is one `wanted` accepts (or the loop is gone).
async fn until(phase: &mut watch::Receiver<Phase>, wanted: impl Fn(Phase) -> bool) {
    let _ = phase.wait_for(|phase| wanted(*phase)).await;
}

/// SIGTERM or SIGINT (Ctrl-C); never, if neither can be listened for.
async fn terminate() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("fast-app: SIGINT received"),
        () = terminate => tracing::info!("fast-app: SIGTERM received"),
    }
}

/// An accept error: a failed connection is skipped; anything else (out of
/// file descriptors, above all) is logged at most once a second, and
/// accepting resumes after a pause, so that the loop does not spin while
/// connections close.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    static ACCEPT: Throttle = Throttle::new();
    match ACCEPT.admit() {
        Some(more) => tracing::error!(error = %e, "fast-app: accept error{}", Throttle::more(more)),
        None => tracing::debug!(error = %e, "fast-app: accept error"),
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Connections refused over the limit, logged at most once a second.
#[derive(Default)]
struct Refused {
    since_logged: u64,
    logged: Option<tokio::time::Instant>,
}

impl Refused {
    fn record(&mut self, peer: SocketAddr) {
        self.since_logged += 1;
        let now = tokio::time::Instant::now();
        if self.logged.is_none_or(|at| now - at >= Duration::from_secs(1)) {
            tracing::warn!(
                %peer,
                refused = self.since_logged,
                "fast-app: connection limit reached; connections over it are closed"
            );
            self.since_logged = 0;
            self.logged = Some(now);
        }
    }
}
