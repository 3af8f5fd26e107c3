//! The wire protocol: what a client sends a namespace, what the server does,
//! what the client receives. Each section mirrors a row of the protocol
//! table in the guide.
//!
//! | client | server | client receives |
//! |---|---|---|
//! | connects with `auth` | the namespace's `connect`, then every handler registered | CONNECT, or `connect_error` |
//! | (is connected) | the namespace's `connected` | what it emits |
//! | `socket_id` | make the socket's public id (once), put the socket in its room | `socket_id` `{"id"}` |
//! | `join_K` + payload | extract the room; guard; join; `on_join` | `joined` `{"room"}`, or `error` |
//! | `leave_K` + payload | extract the room; leave; `on_leave` | `left` `{"room"}`, or `error` |
//! | (joined a presence room) | register the session's member, then reply `joined` | `presence_state` `{"room", "members"}`; the others, `presence_join` for a new user |
//! | (left a presence room, or disconnected) | unregister the connection | the others, `presence_leave` for a user's last connection |
//! | connects with `auth.fa_resume` (rooms with history) | opts in; with a token, checks it and each room's join | after `connected`'s events: the missed events, `fa_resumed`, `fa_session` (module `resume`) |
//! | disconnects | the namespace's `disconnect` | |
//!
//! `connect` and the handlers run in socketioxide's connect middleware,
//! before it sends CONNECT: socketioxide drops an event that arrives before
//! its handler exists, so a join emitted the moment the client is connected
//! must find its handler already there. Nothing can be emitted to the
//! client there (it is not connected yet): `connected` runs in socketioxide's
//! connect handler, which it starts once CONNECT is sent.
//!
//! socketioxide sends CONNECT a moment before it marks the socket connected,
//! and refuses to emit to a socket not marked yet. A client that emits
//! `join_K` on CONNECT can be answered inside that moment (a thread preempted
//! between the two steps is enough), so every reply first waits for the
//! connect handler's signal: an event, not a poll, and already given on all
//! but the first request of a connection.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use tokio::sync::Notify;

use crate::adapter::{ConnectedFn, HandlerTable, ServerAdapter};
use crate::error::{ConnectError, Refusal, ServerError, Throttle};
use crate::metrics::{NamespaceMetrics, RequestMetrics};
use crate::namespace::Namespace;
use crate::presence::Presence;
use crate::registry::{BoxFuture, Done, Membership, NamespaceDef, RoomEntry};
use crate::resume::{self, Resume};
use crate::room::Room;
use crate::session::Session;

// --- Registration: a namespace type and its room types, erased ---

impl NamespaceDef {
    /// The registration of namespace type `N` with its rooms and custom handlers.
    pub const fn of<N: Namespace>(
        type_name: &'static str,
        rooms: &'static [RoomEntry],
        handlers: Option<HandlerTable>,
    ) -> Self {
        Self {
            path: N::PATH,
            type_name,
            rooms,
            connect: |session, auth| Box::pin(N::connect(session, auth)),
            disconnect: |session, reason| Box::pin(N::disconnect(session, reason)),
            handlers,
        }
    }
}

impl RoomEntry {
    /// The registration of room type `R`.
    pub const fn of<R: Room>(type_name: &'static str) -> Self {
        Self {
            key: R::KEY,
            type_name,
            join: join::<R>,
            leave: leave::<R>,
            presence: R::PRESENCE,
            history: R::HISTORY,
            fields: R::FIELDS,
            join_schema: R::join_schema,
        }
    }
}

// --- Connect: authenticate, then register every handler ---

/// Serves `def` on `io`: its connect middleware, and (for remote adapters)
/// waits until the namespace is subscribed.
pub(crate) async fn serve<A: ServerAdapter>(
    io: &SocketIo<A>,
    def: &'static NamespaceDef,
    presence: &Arc<Presence>,
    resume: Option<Arc<Resume>>,
) -> Result<(), ServerError> {
    let rooms: Arc<[RoomEvents]> = def.rooms.iter().map(|room| RoomEvents::new(def, room)).collect();
    let presence = presence.clone();
    let metrics = Arc::new(NamespaceMetrics::new(def.path));
    let connected = def.handlers.as_ref().and_then(|table| A::hooks(table).connected);
    let served = Served {
        def,
        rooms,
        metrics,
        presence,
        resume,
    };
    let after = served.clone();
    let handler = (async move |socket: SocketRef<A>| after_connect(connected, &after, socket).await).with(
        move |socket: SocketRef<A>, TryData(auth): TryData<Value>| {
            connect(served.clone(), socket, auth.unwrap_or(Value::Null))
        },
    );
    A::ready(io.ns(def.path, handler))
        .await
        .map_err(|source| ServerError::Adapter {
            path: def.path,
            source,
        })
}

/// What serving one namespace needs, shared by its handlers.
#[derive(Clone)]
struct Served {
    def: &'static NamespaceDef,
    rooms: Arc<[RoomEvents]>,
    metrics: Arc<NamespaceMetrics>,
    presence: Arc<Presence>,
    /// History and resume, when a room of the namespace keeps history.
    resume: Option<Arc<Resume>>,
}

/// The connect middleware: authenticates, then registers the join, leave,
/// disconnect and custom handlers before socketioxide acknowledges the
/// connection.
async fn connect<A: ServerAdapter>(
    served: Served,
    socket: SocketRef<A>,
    auth: Value,
) -> Result<(), ConnectError> {
    let Served {
        def,
        rooms,
        metrics,
        presence,
        resume,
    } = served;
    let session = Session::for_socket(socket.id, socket.ns());
    if let Err(e) = (def.connect)(&session, &auth).await {
        metrics.refused();
        return Err(e);
    }
    let state = SocketState::default();
    socket.extensions.insert(session.clone());
    socket.extensions.insert(state.clone());
    on_socket_id(&socket);
    for room in rooms.iter() {
        let (join, leave) = (&room.join, &room.leave);
        on_request(
            &socket,
            join,
            room.entry.join,
            room.joins.clone(),
            presence.clone(),
            resume.clone(),
        );
        on_request(
            &socket,
            leave,
            room.entry.leave,
            room.leaves.clone(),
            presence.clone(),
            resume.clone(),
        );
    }
    // Back in its rooms before the first event it could miss; what it
    // missed is sent once it is connected.
    if let Some(resume) = &resume {
        let asked = resume::Asked::of(&auth);
        if let Some(restored) = resume::restore(resume, def, &session, &socket, &asked).await {
            for done in &restored.presence {
                state.track_presence(&done.room);
            }
            *state.restored.lock().unwrap_or_else(|e| e.into_inner()) = Some(restored);
        }
    }
    let open = metrics.opened();
    socket.on_disconnect(move |socket: SocketRef<A>, reason: DisconnectReason| async move {
        metrics.closed(open);
        if let Some(resume) = &resume {
            resume::disconnected(resume, &socket);
        }
        (def.disconnect)(&session, reason).await;
        if let Some(id) = session.public_id() {
            for room in state.take_presence_rooms() {
                if let Err(e) = presence.left(&socket, &room, id, || {}).await {
                    presence_failed(&room, &e);
                }
            }
        }
    });
    if let Some(handlers) = def.handlers.as_ref().and_then(|table| A::hooks(table).handlers) {
        handlers(&socket);
    }
    Ok(())
}

/// The connect handler, once socketioxide has sent CONNECT, so that what
/// it emits reaches the client: the namespace's `connected` hook first (its
/// events are the first a client gets), then, for a resumable connection,
/// its rooms back with what they missed, and its token.
async fn after_connect<A: Adapter>(connected: Option<ConnectedFn<A>>, served: &Served, socket: SocketRef<A>) {
    if let Some(state) = socket.extensions.get::<SocketState>() {
        state.was_connected.store(true, Ordering::SeqCst);
        state.connected.notify_waiters();
    }
    let session = socket.extensions.get::<Session>().unwrap_or_default();
    if let Some(connected) = connected {
        connected(&session, &socket).await;
    }
    if let Some(resume) = &served.resume
        && resume::is_resumable(&socket)
    {
        resumed(resume, served, &session, &socket).await;
    }
}

/// Puts a resumed connection back in its rooms with what they missed, shows
/// it in those that keep presence, and hands it its token.
async fn resumed<A: Adapter>(resume: &Resume, served: &Served, session: &Session, socket: &SocketRef<A>) {
    let state = socket.extensions.get::<SocketState>().unwrap_or_default();
    let restored = state.restored.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(mut restored) = restored {
        // In the rooms first, then shown in those that keep presence.
        let presence = std::mem::take(&mut restored.presence);
        if let Err(e) = resume::send_restored(resume, socket, restored).await {
            not_sent(socket, "resume of", resume::FA_RESUMED, &e);
        }
        let id = session.public_id_or_make();
        for done in presence {
            if let Err(e) = served
                .presence
                .joined(socket, &done.room, id, done.member, || {})
                .await
            {
                presence_failed(&done.room, &e);
            }
        }
    }
    if let Err(e) = resume::send_token(resume, socket, session) {
        not_sent(socket, "token of", resume::FA_SESSION, &e);
    }
}

/// A room's client event names and their outcome counters, made once per server.
struct RoomEvents {
    join: Request,
    leave: Request,
    entry: &'static RoomEntry,
    joins: Arc<RequestMetrics>,
    leaves: Arc<RequestMetrics>,
}

/// A client request of the join protocol: its event, its reply, and which
/// way it changes membership.
struct Request {
    /// `join_K` / `leave_K`.
    event: &'static str,
    /// `joined` / `left`.
    done: &'static str,
    joins: bool,
}

impl RoomEvents {
    fn new(def: &'static NamespaceDef, entry: &'static RoomEntry) -> Self {
        Self {
            join: Request {
                event: intern(format!("join_{}", entry.key)),
                done: "joined",
                joins: true,
            },
            leave: Request {
                event: intern(format!("leave_{}", entry.key)),
                done: "left",
                joins: false,
            },
            entry,
            joins: Arc::new(RequestMetrics::join(def.path, entry.key)),
            leaves: Arc::new(RequestMetrics::leave(def.path, entry.key)),
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

// --- socket_id ---

/// The client event that asks for the socket's public id, and the reply's name.
pub(crate) const SOCKET_ID: &str = "socket_id";

/// Answers `socket_id` with the socket's public id (made on the first
/// request), as an event and as the acknowledgement, once the socket is in
/// the id's room: from then on, a broadcast `except` that id skips it.
fn on_socket_id<A: Adapter>(socket: &SocketRef<A>) {
    socket.on(SOCKET_ID, |socket: SocketRef<A>, ack: AckSender<A>| async move {
        let session = socket.extensions.get::<Session>().unwrap_or_default();
        let id = session.public_id_or_make();
        socket.join(id.room());
        let body = json!({ "id": id });
        marked_connected(&socket).await;
        if let Err(e) = socket.emit(SOCKET_ID, &body) {
            not_sent(&socket, "reply to", SOCKET_ID, &e);
        }
        if let Err(e) = ack.send(&body) {
            not_sent(&socket, "acknowledgement of", SOCKET_ID, &e);
        }
    });
}

// --- join_K and leave_K ---

/// Answers client event `request` (`join_K` / `leave_K`) with `op`: the
/// outcome event (`joined` / `left`, or `error`), and the same payload as
/// the acknowledgement when the client asked for one; counts the outcome.
/// In a room that keeps presence, the presence events follow.
fn on_request<A: Adapter>(
    socket: &SocketRef<A>,
    request: &Request,
    op: crate::registry::RoomOp,
    metrics: Arc<RequestMetrics>,
    presence: Arc<Presence>,
    resume: Option<Arc<Resume>>,
) {
    let Request { event, done, joins } = *request;
    socket.on(
        event,
        move |socket: SocketRef<A>, TryData(payload): TryData<Value>, ack: AckSender<A>| async move {
            // Any JSON reads as a `Value`: the only failure is no payload at all.
            let payload = payload.unwrap_or(Value::Null);
            let session = socket.extensions.get::<Session>().unwrap_or_default();
            let outcome = op(&session, payload, &socket).await;
            metrics.record(&outcome);
            // A joiner of a room that keeps history: a resumable one joins
            // its shadow, and learns its position there, taken once it is
            // in the room; a leaver leaves the shadow.
            let at = match (&resume, &outcome) {
                (Some(resume), Ok(done)) => {
                    let resumable = resume::is_resumable(&socket);
                    match joins {
                        true => resume::joined(resume, &socket, &done.room, resumable).await,
                        false => {
                            if resumable {
                                resume::left(resume, &socket, &done.room);
                            }
                            None
                        }
                    }
                }
                _ => None,
            };
            marked_connected(&socket).await;
            let outcome = match outcome {
                Ok(Done {
                    room,
                    presence: true,
                    member,
                }) => {
                    let id = session.public_id_or_make();
                    let state = socket.extensions.get::<SocketState>().unwrap_or_default();
                    let answer = || reply(&socket, ack, event, done, Ok(&room), at);
                    let result = match joins {
                        true => {
                            state.track_presence(&room);
                            presence.joined(&socket, &room, id, member, answer).await
                        }
                        false => {
                            state.untrack_presence(&room);
                            presence.left(&socket, &room, id, answer).await
                        }
                    };
                    if let Err(e) = result {
                        presence_failed(&room, &e);
                    }
                    return;
                }
                Ok(done) => Ok(done.room),
                Err(refusal) => Err(refusal),
            };
            reply(&socket, ack, event, done, outcome.as_deref(), at);
        },
    );
}

/// Logs a change of presence that could not be stored (the store is
/// Redis, and it failed): the member list is then wrong until the store
/// is back.
fn presence_failed(room: &str, e: &crate::error::PresenceError) {
    static THROTTLE: Throttle = Throttle::new();
    if let Some(more) = THROTTLE.admit() {
        tracing::warn!(
            room,
            "fast-app: presence not updated: {e}{}",
            Throttle::more(more)
        );
    }
}

fn join<'a, R: Room>(
    session: &'a Session,
    payload: Value,
    socket: &'a dyn Membership,
) -> BoxFuture<'a, Result<Done, Refusal>> {
    Box::pin(async move {
        let (room, name) = named::<R>(session, payload).await?;
        if !room.can_join(session).await {
            return Err(Refusal::Forbidden(name));
        }
        socket.join_room(name.clone());
        room.on_join(session).await;
        let member = match R::PRESENCE {
            true => room.member(session).await,
            false => None,
        };
        Ok(Done {
            room: name,
            presence: R::PRESENCE,
            member,
        })
    })
}

fn leave<'a, R: Room>(
    session: &'a Session,
    payload: Value,
    socket: &'a dyn Membership,
) -> BoxFuture<'a, Result<Done, Refusal>> {
    Box::pin(async move {
        let (room, name) = named::<R>(session, payload).await?;
        socket.leave_room(name.clone());
        room.on_leave(session).await;
        Ok(Done {
            room: name,
            presence: R::PRESENCE,
            member: None,
        })
    })
}

/// The room a request's payload describes, and its name.
async fn named<R: Room>(session: &Session, payload: Value) -> Result<(R, String), Refusal> {
    let room = R::extract(session, payload).await.map_err(Refusal::Validation)?;
    let name = room.name().map_err(|e| Refusal::Validation(e.into()))?;
    Ok((room, name))
}

impl<A: Adapter> Membership for SocketRef<A> {
    fn join_room(&self, room: String) {
        self.join(room);
    }

    fn leave_room(&self, room: String) {
        self.leave(room);
    }
}

/// `joined` / `left` `{"room": name}`, or `error` with the refusal, as an
/// event and as the acknowledgement.
fn reply<A: Adapter>(
    socket: &SocketRef<A>,
    ack: AckSender<A>,
    request: &'static str,
    done: &'static str,
    outcome: Result<&str, &Refusal>,
    at: Option<Value>,
) {
    let (event, body) = match outcome {
        Ok(room) => {
            let mut body = json!({ "room": room });
            // `"epoch"` and `"offset"`, for a resumable joiner of a room with history.
            if let (Some(Value::Object(at)), Value::Object(body)) = (at, &mut body) {
                body.extend(at);
            }
            (done, body)
        }
        Err(Refusal::Validation(e)) => (
            "error",
            json!({ "type": "validation_error", "msg": e.message_for(request) }),
        ),
        Err(Refusal::Forbidden(room)) => ("error", json!({ "type": "forbidden", "room": room })),
    };
    if let Err(e) = socket.emit(event, &body) {
        not_sent(socket, "reply to", request, &e);
    }
    if let Err(e) = ack.send(&body) {
        not_sent(socket, "acknowledgement of", request, &e);
    }
}

/// What the protocol keeps per socket, in its extensions.
#[derive(Clone, Default)]
struct SocketState(Arc<SocketStateInner>);

#[derive(Default)]
struct SocketStateInner {
    /// Replies and acknowledgements the connection could not take (its
    /// queue was full: it stopped reading, or was closing).
    not_sent: AtomicU64,
    /// Signalled by the connect handler, once socketioxide marked the
    /// socket connected.
    connected: Notify,
    /// Set with that signal: a socket no longer connected after it is gone,
    /// and waits for nothing.
    was_connected: AtomicBool,
    /// The presence rooms the socket is registered in, to leave on disconnect.
    presence_rooms: Mutex<Vec<String>>,
    /// What a resume restored, sent once the socket is connected.
    restored: Mutex<Option<resume::Restored>>,
}

impl SocketStateInner {
    fn rooms(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.presence_rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn track_presence(&self, room: &str) {
        let mut rooms = self.rooms();
        if !rooms.iter().any(|r| r == room) {
            rooms.push(room.to_owned());
        }
    }

    fn untrack_presence(&self, room: &str) {
        self.rooms().retain(|r| r != room);
    }

    fn take_presence_rooms(&self) -> Vec<String> {
        std::mem::take(&mut *self.rooms())
    }
}

impl std::ops::Deref for SocketState {
    type Target = SocketStateInner;

    fn deref(&self) -> &SocketStateInner {
        &self.0
    }
}

/// How long a reply waits for socketioxide to mark its socket connected. It
/// is a matter of microseconds; the bound only ends the wait of a socket
/// whose CONNECT could not be sent (it never will be).
const CONNECTED_WAIT: Duration = Duration::from_secs(5);

/// Waits until socketioxide has marked `socket` connected, so that an emit
/// to it is not refused (see the module's documentation).
async fn marked_connected<A: Adapter>(socket: &SocketRef<A>) {
    if socket.connected() {
        return;
    }
    let Some(state) = socket.extensions.get::<SocketState>() else {
        return;
    };
    if state.was_connected.load(Ordering::SeqCst) {
        return;
    }
    let signal = state.connected.notified();
    tokio::pin!(signal);
    signal.as_mut().enable();
    if !socket.connected() {
        // On timeout the emit fails and is logged as not sent.
        let _ = tokio::time::timeout(CONNECTED_WAIT, signal).await;
    }
}

/// Logs a reply the client could not take, where a client that floods the
/// server with requests while it stops reading cannot fill the logs: WARN
/// for a connection's first failure only (and at most once a second over
/// every connection), DEBUG for the rest, with the connection's count. Never
/// the socket id: it is the Engine.IO session id, a credential on polling.
fn not_sent<A: Adapter>(socket: &SocketRef<A>, what: &str, request: &str, e: &socketioxide::SendError) {
    static FIRST: Throttle = Throttle::new();
    let count = socket
        .extensions
        .get::<SocketState>()
        .map_or(1, |state| state.not_sent.fetch_add(1, Ordering::Relaxed) + 1);
    let admitted = match count {
        1 => FIRST.admit(),
        _ => None,
    };
    match admitted {
        Some(more) => tracing::warn!(
            "fast-app: {what} `{request}` not sent: {e}; this connection's next failures are logged at DEBUG{}",
            Throttle::more(more)
        ),
        None => tracing::debug!(count, "fast-app: {what} `{request}` not sent: {e}"),
    }
}
