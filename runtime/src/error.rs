//! Error types of the runtime.

use std::fmt;

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
/// Sent to the client as `error` `{"type":"validation_error","msg":...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError(pub String);

impl ValidationError {
    /// A validation error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }

    /// The message sent to the client.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValidationError {}

impl From<serde_json::Error> for ValidationError {
    fn from(e: serde_json::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<InvalidRoomName> for ValidationError {
    fn from(e: InvalidRoomName) -> Self {
        Self(e.to_string())
    }
}

impl From<&str> for ValidationError {
    fn from(msg: &str) -> Self {
        Self(msg.to_owned())
    }
}

impl From<String> for ValidationError {
    fn from(msg: String) -> Self {
        Self(msg)
    }
}

/// A refused connection: the client receives `connect_error` with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError(pub String);

impl ConnectError {
    /// A refusal with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

impl From<&str> for ConnectError {
    fn from(msg: &str) -> Self {
        Self(msg.to_owned())
    }
}

impl From<String> for ConnectError {
    fn from(msg: String) -> Self {
        Self(msg)
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
    #[error("event `{event}`: emit to namespace `{namespace}` failed: {message}")]
    Transport {
        /// The event's wire name.
        event: String,
        /// The namespace of the failed emit.
        namespace: String,
        /// What the transport said.
        message: String,
    },
    /// Several of the above, one per failed part of a single broadcast.
    #[error("{} parts of the broadcast failed: {}", .0.len(), join(.0))]
    Failed(Vec<BroadcastError>),
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
