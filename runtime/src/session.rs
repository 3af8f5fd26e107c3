//! Per-socket session: what `connect` learns about a client, read by room guards.

use std::fmt;
use std::sync::{Arc, OnceLock};

use socketioxide::extensions::Extensions;
use socketioxide::socket::Sid;

use crate::socket_id::SocketId;

/// Typed values attached to one connected socket.
///
/// A namespace's `connect` function stores what it learns about the client
/// (`session.insert(User { .. })`), and room guards and hooks read it back
/// (`session.get::<User>()`). Values are keyed by type, like
/// [`http::Extensions`](https://docs.rs/http/latest/http/struct.Extensions.html).
///
/// A `Session` is a cheap handle: clones share the same values. The server
/// stores it in the socket's socketioxide extensions too, so custom handlers
/// can extract it with `Extension<Session>`.
///
/// ```
/// use fast_app::Session;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct User { name: String }
///
/// let session = Session::new();
/// session.insert(User { name: "alice".into() });
/// assert_eq!(session.get::<User>(), Some(User { name: "alice".into() }));
/// assert!(session.get::<u32>().is_none());
/// ```
#[derive(Clone, Default)]
pub struct Session {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    socket: Option<(Sid, String)>,
    public_id: OnceLock<SocketId>,
    values: Extensions,
}

impl Session {
    /// An empty session that belongs to no socket (for tests of guards and hooks).
    pub fn new() -> Self {
        Self::default()
    }

    /// The session of a connected socket.
    pub(crate) fn for_socket(id: Sid, namespace: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                socket: Some((id, namespace.to_owned())),
                public_id: OnceLock::new(),
                values: Extensions::new(),
            }),
        }
    }

    /// Stores `value`, returning the value of the same type it replaces.
    pub fn insert<T: Clone + Send + Sync + 'static>(&self, value: T) -> Option<T> {
        self.inner.values.insert(value)
    }

    /// A clone of the stored value of type `T`.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.inner.values.get()
    }

    /// Removes and returns the stored value of type `T`.
    pub fn remove<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.inner.values.remove()
    }

    /// socketioxide's id of the socket this session belongs to (`None` for
    /// [`Session::new`]).
    ///
    /// It is the Engine.IO session id: on the polling transport, whoever
    /// holds it can send packets as this client. Keep it out of logs, and
    /// never hand it to other clients or third parties: what a client may
    /// show is its [`public_id`](Self::public_id).
    pub fn sid(&self) -> Option<Sid> {
        self.inner.socket.as_ref().map(|(id, _)| *id)
    }

    /// The socket's public id, once the client has asked for it
    /// (`socket_id`): what its HTTP requests carry so that the broadcasts
    /// they cause skip it.
    pub fn public_id(&self) -> Option<SocketId> {
        self.inner.public_id.get().copied()
    }

    /// The socket's public id, made on the first call.
    pub(crate) fn public_id_or_make(&self) -> SocketId {
        *self.inner.public_id.get_or_init(SocketId::random)
    }

    /// The namespace path of the socket this session belongs to.
    pub fn namespace(&self) -> Option<&str> {
        self.inner.socket.as_ref().map(|(_, ns)| ns.as_str())
    }

    /// Says which user this session is, for resuming: the namespace's
    /// `connect` calls it once it has authenticated the client. A resume
    /// token is issued to that user only, and a resume is honoured only for
    /// a session of the same user (see "Resume" in the guide).
    pub fn identify(&self, user: impl fmt::Display) {
        self.insert(UserId(user.to_string()));
    }

    /// The user [`identify`](Self::identify) named, if any.
    pub fn user_id(&self) -> Option<String> {
        self.get::<UserId>().map(|UserId(id)| id)
    }
}

/// What [`Session::identify`] stores.
#[derive(Clone)]
struct UserId(String);

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the socket id: it is the Engine.IO session id, a credential on
        // the polling transport, and a `Debug` of a session ends up in logs.
        f.debug_struct("Session")
            .field("namespace", &self.namespace())
            .finish_non_exhaustive()
    }
}
