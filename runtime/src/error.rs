//! Every error type of the runtime.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A room identifier that cannot become a room name.
///
/// Room names are `key|value|value...`; a value that contains the separator
/// would make one room's name equal to another's, so it is refused instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("room `{key}`: value {value:?} contains the separator `|`, which would alias another room's name")]
pub struct InvalidRoomName {
    /// The key of the room whose name was being built.
    pub key: &'static str,
    /// The offending value, as its `Display` wrote it.
    pub value: String,
}

/// Why a join or leave request was refused before any guard ran.
///
/// Sent to the client as `error` `{"type":"validation_error","msg":...}`,
/// where `msg` names the client event: a [`Payload`](Self::Payload) error
/// of `join_chat` reads ``join_chat expects {"chat_id": <integer>}: missing
/// field `chat_id` ``.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// The payload does not describe the room.
    #[error("expects {expected}: {source}")]
    Payload {
        /// What the room's payload looks like, e.g. `{"chat_id": <integer>}`.
        expected: &'static str,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
    /// The payload describes a room whose name would alias another's.
    #[error(transparent)]
    RoomName(#[from] InvalidRoomName),
    /// Refused by the room's own `extract`, with this message.
    #[error("{0}")]
    Message(Cow<'static, str>),
}

impl ValidationError {
    /// A refusal with this message, for a room's `extract`.
    pub fn new(msg: impl Into<Cow<'static, str>>) -> Self {
        Self::Message(msg.into())
    }

    /// The message the client receives for a request of `event` (`join_chat`).
    pub fn message_for(&self, event: &str) -> String {
        match self {
            Self::Payload { .. } => format!("{event} {self}"),
            other => other.to_string(),
        }
    }
}

impl From<&'static str> for ValidationError {
    fn from(msg: &'static str) -> Self {
        Self::new(msg)
    }
}

impl From<String> for ValidationError {
    fn from(msg: String) -> Self {
        Self::new(msg)
    }
}

/// What a join or leave request was refused for.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The payload did not describe a room: `{"type":"validation_error","msg":...}`.
    Validation(ValidationError),
    /// The guard said no: `{"type":"forbidden","room":name}`.
    Forbidden(String),
}

/// A refused connection: the client receives `connect_error` with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    message: Cow<'static, str>,
}

impl ConnectError {
    /// A refusal with this message.
    pub fn new(msg: impl Into<Cow<'static, str>>) -> Self {
        Self { message: msg.into() }
    }

    /// The message the client receives.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<&'static str> for ConnectError {
    fn from(msg: &'static str) -> Self {
        Self::new(msg)
    }
}

impl From<String> for ConnectError {
    fn from(msg: String) -> Self {
        Self::new(msg)
    }
}

/// Everything that can make [`broadcast`](crate::broadcast) fail.
///
/// A broadcast that reached some namespaces but not others reports every
/// failure in [`BroadcastError::Failed`]; nothing is swallowed.
#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    /// No broadcaster is installed: no server was built and none was set.
    #[error(
        "no broadcaster is installed: build a server with `Server::builder()`, or install one with `Broadcaster::install`"
    )]
    NoBroadcaster,
    /// A target room's identifiers could not form a room name.
    #[error(transparent)]
    InvalidRoom(#[from] InvalidRoomName),
    /// The payload could not be serialized to JSON.
    #[error("event `{event}`: payload could not be serialized: {source}")]
    Serialize {
        /// The event's wire name.
        event: String,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// The target namespace is not served by the broadcaster's server.
    #[error("event `{event}`: namespace `{namespace}` is not served")]
    UnknownNamespace {
        /// The event's wire name.
        event: String,
        /// The missing namespace.
        namespace: String,
    },
    /// The transport refused or failed the emit.
    #[error("event `{event}`: emit to namespace `{namespace}` failed: {source}")]
    Transport {
        /// The event's wire name.
        event: String,
        /// The namespace of the failed emit.
        namespace: String,
        /// What the transport said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Several of the above, one per failed part of a single broadcast.
    #[error("{} parts of the broadcast failed: {}", .0.len(), join(.0))]
    Failed(Vec<BroadcastError>),
}

impl BroadcastError {
    /// What a broadcast's outcome from socketioxide means for its caller.
    ///
    /// Sockets that could not take the packet are not a failure of the
    /// broadcast: every other socket received it, and a retry would send
    /// it to them twice. A full queue is a slow consumer's (counted in
    /// `fast_app_packets_dropped_total`); a closed one belongs to a socket
    /// that was leaving. What fails is a payload that does not serialize
    /// and a publish to the other servers that did not happen.
    pub(crate) fn from_outcome(
        namespace: &str,
        event: &str,
        outcome: Result<(), socketioxide::BroadcastError>,
    ) -> Result<(), Self> {
        match outcome {
            Ok(()) => Ok(()),
            Err(socketioxide::BroadcastError::Socket(sockets)) => {
                dropped(namespace, event, &sockets);
                Ok(())
            }
            Err(e) => Err(Self::not_delivered(namespace, event, e)),
        }
    }

    /// A broadcast socketioxide did not deliver, reported (never silent): a
    /// payload that does not serialize, or a failed publish.
    fn not_delivered(namespace: &str, event: &str, e: socketioxide::BroadcastError) -> Self {
        if let socketioxide::BroadcastError::Serialize(e) = e {
            // Nothing was sent: the packet is built before any delivery.
            return Self::Serialize {
                event: event.to_owned(),
                source: serde::ser::Error::custom(e),
            };
        }
        // socketioxide's adapter error is not `Sync`: its message is kept.
        let source = DeliveryError::Adapter(e.to_string());
        static NOT_DELIVERED: Throttle = Throttle::new();
        match NOT_DELIVERED.admit() {
            Some(more) => tracing::warn!(
                namespace,
                event,
                "fast-app: broadcast not delivered: {source}{}",
                Throttle::more(more)
            ),
            None => tracing::debug!(namespace, event, "fast-app: broadcast not delivered: {source}"),
        }
        Self::Transport {
            event: event.to_owned(),
            namespace: namespace.to_owned(),
            source: Box::new(source),
        }
    }
}

/// Packets that sockets could not take: counted, and logged at most once a
/// second. A socket whose queue is full is a slow consumer; the transport
/// closes it (see `Serve::max_outbound_bytes`), or Engine.IO at its next
/// heartbeat, and its client reconnects and resyncs.
fn dropped(namespace: &str, event: &str, sockets: &[socketioxide::SocketError]) {
    let full = sockets
        .iter()
        .filter(|e| matches!(e, socketioxide::SocketError::InternalChannelFull))
        .count();
    if full == 0 {
        // Sockets closed between the room lookup and the send: they left.
        return;
    }
    crate::metrics::packets_dropped(namespace, event, full as u64);
    static DROPPED: Throttle = Throttle::new();
    if let Some(more) = DROPPED.admit() {
        tracing::warn!(
            namespace,
            event,
            "fast-app: {full} slow socket(s) could not take a packet: their queue is full{}",
            Throttle::more(more)
        );
    }
}

/// Why socketioxide did not deliver a broadcast: the
/// [`source`](std::error::Error::source) of a [`BroadcastError::Transport`]
/// from a server's own adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The adapter failed to hand the broadcast to the other servers (a
    /// Redis publish); this server's own sockets received it.
    #[error("{0}")]
    Adapter(String),
}

fn join(errors: &[BroadcastError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A registry that cannot be served as declared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No `#[namespace]` was linked into the program.
    #[error(
        "no namespace is registered: declare one with `#[namespace(\"/\")]`, and make sure the crate that declares it is linked (name it from the binary, e.g. `use my_crate as _;`)"
    )]
    Empty,
    /// Two namespaces declare one path.
    #[error("namespace path `{path}` is declared twice: by `{first}` and by `{second}`")]
    DuplicatePath {
        /// The contested path.
        path: &'static str,
        /// The first declaring type.
        first: &'static str,
        /// The second declaring type.
        second: &'static str,
    },
    /// Two rooms of one namespace share a key, so `join_<key>` would be ambiguous.
    #[error(
        "namespace `{path}`: rooms `{first}` and `{second}` both have key `{key}`; give one a distinct `#[room(key = \"...\")]`"
    )]
    DuplicateKey {
        /// The namespace path.
        path: &'static str,
        /// The shared key.
        key: &'static str,
        /// The first room type.
        first: &'static str,
        /// The second room type.
        second: &'static str,
    },
}

/// Why a server, or a Redis emitter, could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The registered namespaces cannot be served together.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Redis could not be reached or refused the connection: the message
    /// says why (`redis at redis://127.0.0.1:6379: Connection refused`).
    #[error("redis at {url}: {}", source.cause())]
    Redis {
        /// The URL, without its password.
        url: String,
        /// What went wrong.
        #[source]
        source: RedisDriverError,
    },
    /// The adapter failed to initialise a namespace.
    #[error("namespace `{path}`: the adapter failed to start: {source}")]
    Adapter {
        /// The namespace path.
        path: &'static str,
        /// What the adapter said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Why a Redis operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RedisDriverError {
    /// Redis answered with an error, or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// Redis did not answer in time (it may be down).
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis accepted the connection and closed it with this message
    /// (`ERR max number of clients reached`).
    #[error("redis closed the connection: {0}")]
    Refused(String),
    /// The task that publishes broadcasts to rooms with history is gone
    /// (the runtime is shutting down): the broadcast was not published.
    #[error("the task publishing to redis is gone (the runtime is shutting down)")]
    Closed,
    /// A cluster was configured, but this build has no cluster support.
    #[error("a Redis Cluster needs the `redis-cluster` feature of fast-app")]
    ClusterDisabled,
}

impl RedisDriverError {
    /// The cause in words, for a message that already names Redis.
    pub(crate) fn cause(&self) -> String {
        match self {
            Self::Redis(e) => e.to_string(),
            other => other.to_string(),
        }
    }
}

/// Why [`metrics::install`](crate::metrics::install) failed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Another recorder of the `metrics` crate is installed in this process
    /// (a process has one), so fast-app's Prometheus recorder cannot be;
    /// fast-app's metrics stay unrecorded.
    #[error("another `metrics` recorder is installed already: fast-app's Prometheus recorder cannot be")]
    OtherRecorder,
    /// The recorder could not be built.
    #[error("cannot install the Prometheus recorder")]
    Install(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A warning that clients or traffic can repeat, written at most once a
/// second: the lines in between go to DEBUG, counted, and the next warning
/// says how many there were. One per call site, in a `static`.
pub(crate) struct Throttle {
    /// Milliseconds since [`epoch`] before which a line is not written.
    next: AtomicU64,
    /// Lines not written at WARN since the last one.
    suppressed: AtomicU64,
}

impl Throttle {
    const EVERY: Duration = Duration::from_secs(1);

    pub(crate) const fn new() -> Self {
        Self {
            next: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)`: write the warning now, `n` having been held back since
    /// the last one; `None`: write it at DEBUG instead (it is counted).
    pub(crate) fn admit(&self) -> Option<u64> {
        let now = epoch().elapsed().as_millis() as u64;
        let next = self.next.load(Ordering::Relaxed);
        let due = now >= next;
        let claimed = due
            && self
                .next
                .compare_exchange(
                    next,
                    now + Self::EVERY.as_millis() as u64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        if claimed {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// `" (and N more since the last warning)"`, or nothing.
    pub(crate) fn more(n: u64) -> String {
        match n {
            0 => String::new(),
            n => format!(" (and {n} more since the last warning, at DEBUG)"),
        }
    }
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A text that is not a [`SocketId`](crate::SocketId).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a socket id is 32 lowercase hex digits, as the server's `socket_id` reply gives it")]
pub struct InvalidSocketId;

/// Why a request's [`SOCKET_ID_HEADER`](crate::SOCKET_ID_HEADER) was refused: `400` with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocketIdRejection {
    /// The request has no such header.
    #[error("missing `X-Socket-ID` header")]
    Missing,
    /// The header is not a socket id.
    #[error("invalid `X-Socket-ID` header: {0}")]
    Invalid(#[from] InvalidSocketId),
}

/// Why a room's members could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    /// No broadcaster is installed: no server was built and none was set.
    #[error(
        "no broadcaster is installed: build a server with `Server::builder()`, or install a `Broadcaster::redis_emitter`"
    )]
    NoBroadcaster,
    /// The broadcaster keeps no presence (a recording, or a transport of
    /// the application's own).
    #[error(
        "this broadcaster keeps no presence: a `Server`'s broadcaster or `Broadcaster::redis_emitter` does"
    )]
    NotKept,
    /// The room's identifiers could not form a room name.
    #[error(transparent)]
    InvalidRoom(#[from] InvalidRoomName),
    /// The store (Redis) failed or did not answer in time.
    #[error("presence store: {0}")]
    Store(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_writes_the_first_warning_and_counts_the_next() {
        let throttle = Throttle::new();
        assert_eq!(throttle.admit(), Some(0));
        assert_eq!(throttle.admit(), None);
        assert_eq!(throttle.admit(), None);
        assert_eq!(throttle.suppressed.load(Ordering::Relaxed), 2);
        // Once due, the next warning says how many were held back.
        throttle.next.store(0, Ordering::Relaxed);
        assert_eq!(throttle.admit(), Some(2));
        assert_eq!(
            Throttle::more(2),
            " (and 2 more since the last warning, at DEBUG)"
        );
        assert_eq!(Throttle::more(0), "");
    }

    #[test]
    fn redis_errors_read_with_their_cause() {
        let refused =
            RedisDriverError::Redis(std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into());
        let error = ServerError::Redis {
            url: "redis://127.0.0.1:1".into(),
            source: refused,
        };
        assert_eq!(
            error.to_string(),
            "redis at redis://127.0.0.1:1: connection refused"
        );
        let full = ServerError::Redis {
            url: "redis://h".into(),
            source: RedisDriverError::Refused("ERR max number of clients reached".into()),
        };
        assert_eq!(
            full.to_string(),
            "redis at redis://h: redis closed the connection: ERR max number of clients reached"
        );
    }
}
