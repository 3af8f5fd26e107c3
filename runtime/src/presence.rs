//! Presence: who is in a room, keyed by user, across every connection of
//! that user.
//!
//! A room opts in with `#[room(presence = path)]`, a function that derives
//! the [`Member`] others may see from the joining socket's session. The
//! server then keeps, per room, each user's connections: the first
//! connection of a user to join makes the user a member (`presence_join` to
//! the room), the last one to leave or disconnect ends it
//! (`presence_leave`), and every joiner gets the members (`presence_state`).
//!
//! Where the members are kept is the server's store: in memory on the
//! in-process adapter, in Redis on the Redis adapter.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::adapter::emit_here_at_least;
use crate::check::BoxFuture;
use crate::error::{PresenceError, Throttle};
use crate::room::Room;
use crate::socket_id::SocketId;

/// What a room's members see of a user: an id (one member per id, however
/// many connections the user has) and whatever `info` the application
/// shows (a name, an avatar).
///
/// ```
/// use fast_app::Member;
/// use serde_json::json;
///
/// let member = Member::new(42, json!({ "name": "Alice" }));
/// assert_eq!(member.id(), "42");
/// assert_eq!(
///     serde_json::to_value(&member).unwrap(),
///     json!({ "id": "42", "info": { "name": "Alice" } })
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    id: String,
    info: Value,
}

impl Member {
    /// The member `id` (its `Display` text), showing `info` (`Value::Null`
    /// for nothing).
    pub fn new(id: impl fmt::Display, info: Value) -> Self {
        Self {
            id: id.to_string(),
            info,
        }
    }

    /// The user's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What others see of the user.
    pub fn info(&self) -> &Value {
        &self.info
    }
}

/// A room that keeps presence: `#[room(presence = path)]` implements it.
/// Only such a room can be asked for its members.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not keep presence",
    label = "no `presence = ...` on `{Self}`",
    note = "add `presence = path` to `#[room(...)]` on `{Self}`, with `async fn(&{Self}, &Session) -> Option<Member>`"
)]
pub trait PresenceRoom: Room {}

/// The event a joiner of a presence room receives after `joined`:
/// `{"room", "members": [{"id", "info"}...]}`, members sorted by id.
pub const PRESENCE_STATE: &str = "presence_state";
/// The event a presence room receives when a user's first connection
/// joins it: `{"room", "member": {"id", "info"}}`.
pub const PRESENCE_JOIN: &str = "presence_join";
/// The event a presence room receives when a user's last connection leaves
/// it or disconnects: `{"room", "member": {"id", "info"}}`.
pub const PRESENCE_LEAVE: &str = "presence_leave";

/// Where a server keeps its rooms' members. `namespace` and `room` name the
/// room; `socket` is a connection's public id (never its session id).
pub(crate) trait Store: Send + Sync + 'static {
    /// Adds a connection of `member`: whether it is the user's first in the
    /// room, and the room's members then (sorted by id), read in the same
    /// step.
    fn add<'a>(
        &'a self,
        namespace: &'a str,
        room: &'a str,
        socket: SocketId,
        member: &'a Member,
    ) -> BoxFuture<'a, Result<Added, PresenceError>>;

    /// Removes a connection: the member, when it was the user's last in the room.
    fn remove<'a>(
        &'a self,
        namespace: &'a str,
        room: &'a str,
        socket: SocketId,
    ) -> BoxFuture<'a, Result<Option<Member>, PresenceError>>;

    /// The room's members, sorted by id.
    fn members<'a>(
        &'a self,
        namespace: &'a str,
        room: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Member>, PresenceError>>;

    // A store shared by several servers keeps each server's liveness, and
    // survives the loss of what it holds. A store of one process has
    // nothing to do: the defaults below.

    /// Renews this server's liveness: the rooms to [`resync`](Self::resync)
    /// (the store lost this server's connections, or a change failed), and
    /// whether the store had lost them.
    fn renew(&self) -> BoxFuture<'_, Result<Renewal, PresenceError>> {
        Box::pin(async { Ok(Renewal::default()) })
    }

    /// The rooms where this server registered connections.
    fn local_rooms(&self) -> Vec<RoomRef> {
        Vec::new()
    }

    /// Registers this server's connections of `room` again, and redoes the
    /// removals that failed: the changes the room must hear of.
    fn resync<'a>(&'a self, room: &'a RoomRef) -> BoxFuture<'a, Result<Vec<Change>, PresenceError>> {
        let _ = room;
        Box::pin(async { Ok(Vec::new()) })
    }

    /// The other servers that stopped renewing, each with its rooms.
    fn gone(&self) -> BoxFuture<'_, Result<Vec<GoneServer>, PresenceError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Removes a gone server's connections from `room`: the members that had
    /// no other.
    fn sweep<'a>(
        &'a self,
        server: &'a str,
        room: &'a RoomRef,
    ) -> BoxFuture<'a, Result<Vec<Member>, PresenceError>> {
        let _ = (server, room);
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Forgets a gone server, once swept.
    fn forget<'a>(&'a self, server: &'a str) -> BoxFuture<'a, Result<(), PresenceError>> {
        let _ = server;
        Box::pin(async { Ok(()) })
    }
}

/// What [`Store::renew`] found.
#[derive(Debug, Default)]
pub(crate) struct Renewal {
    /// The rooms to register again.
    pub resync: Vec<RoomRef>,
    /// Whether the store had lost this server (restarted, or took it as gone).
    pub lost: bool,
}

/// What [`Store::add`] did.
#[derive(Debug)]
pub(crate) struct Added {
    /// Whether the connection is its user's first in the room.
    pub first: bool,
    /// The room's members after it, sorted by id.
    pub members: Vec<Member>,
}

/// A server that stopped renewing its liveness, and the rooms where it had
/// connections.
#[derive(Debug)]
pub(crate) struct GoneServer {
    pub server: String,
    pub rooms: Vec<RoomRef>,
}

/// A room of a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RoomRef {
    pub namespace: String,
    pub room: String,
}

impl RoomRef {
    pub(crate) fn new(namespace: &str, room: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            room: room.to_owned(),
        }
    }
}

/// A change of a room's members that its sockets must hear of.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    Joined(Member),
    Left(Member),
}

/// A server's presence: its store, and the order of changes per room.
///
/// A join takes its snapshot and sends it, and each change sends its event,
/// under its room's lock: on one server, a joiner never gets an event older
/// than its snapshot after it, nor misses one newer. A room's lock exists
/// while someone holds or waits for it, so rooms never wait on each other.
pub(crate) struct Presence {
    store: Arc<dyn Store>,
    order: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<()>>>>,
    hasher: RandomState,
    /// Upkeep rounds left that send this server's sockets a fresh
    /// `presence_state` (see [`Presence::maintain_once`]).
    refreshes: std::sync::atomic::AtomicU8,
}

/// After the store lost this server, how many upkeep rounds refresh its
/// sockets' `presence_state`.
const REFRESHES: u8 = 2;

/// A room's turn: its changes are made and sent while this is held.
struct Turn<'a> {
    presence: &'a Presence,
    key: u64,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut order = self.presence.order.lock().unwrap_or_else(|e| e.into_inner());
        // Nobody else holds or waits for it (they would hold a clone): forget it.
        if order
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            order.remove(&self.key);
        }
    }
}

impl Presence {
    pub(crate) fn new(store: impl Store) -> Arc<Self> {
        Arc::new(Self {
            store: Arc::new(store),
            order: Mutex::default(),
            hasher: RandomState::new(),
            refreshes: std::sync::atomic::AtomicU8::new(0),
        })
    }

    /// The in-process server's presence, in memory.
    pub(crate) fn in_memory() -> Arc<Self> {
        Self::new(MemoryStore::default())
    }

    /// Waits for `room`'s turn. Rooms are told apart by a hash of their
    /// names (two rooms sharing one would only share turns).
    async fn ordered(&self, namespace: &str, room: &str) -> Turn<'_> {
        let key = self.hasher.hash_one((namespace, room));
        let lock = {
            let mut order = self.order.lock().unwrap_or_else(|e| e.into_inner());
            order.entry(key).or_default().clone()
        };
        Turn {
            presence: self,
            key,
            guard: Some(lock.lock_owned().await),
        }
    }

    /// The members of `room` of `namespace`.
    pub(crate) async fn members(&self, namespace: &str, room: &str) -> Result<Vec<Member>, PresenceError> {
        self.store.members(namespace, room).await
    }

    /// After `socket` joined `room`: registers its member, if it shows one,
    /// runs `reply` (the `joined` reply), sends the joiner `presence_state`,
    /// and the others `presence_join` when the user was not there yet.
    pub(crate) async fn joined<A: Adapter>(
        &self,
        socket: &SocketRef<A>,
        room: &str,
        id: SocketId,
        member: Option<Member>,
        reply: impl FnOnce(),
    ) -> Result<(), PresenceError> {
        let namespace = socket.ns();
        let _order = self.ordered(namespace, room).await;
        // Gone meanwhile: its disconnect, which socketioxide runs once the
        // socket is marked disconnected, registers nothing (the caller put
        // the room in the socket's list first), and neither may this.
        if !socket.connected() {
            reply();
            return Ok(());
        }
        let stored = match &member {
            Some(member) => self.store.add(namespace, room, id, member).await,
            None => self.store.members(namespace, room).await.map(|members| Added {
                first: false,
                members,
            }),
        };
        // `joined` once the member is registered: whoever joins after the
        // joiner's acknowledgement, on any server, sees it.
        reply();
        let Added { first, members } = match stored {
            Ok(stored) => stored,
            Err(e) => {
                let body = json!({ "type": PRESENCE_UNAVAILABLE, "room": room });
                emit_or_log(socket.emit("error", &body));
                return Err(e);
            }
        };
        emit_or_log(socket.emit(PRESENCE_STATE, &json!({ "room": room, "members": members })));
        if let (true, Some(member)) = (first, member) {
            let body = json!({ "room": room, "member": member });
            emit_or_log(to_others(socket, room, &body, PRESENCE_JOIN).await);
        }
        Ok(())
    }

    /// After `socket` left `room` (or disconnected): unregisters its
    /// connection, runs `reply` (the `left` reply, once the connection is
    /// unregistered), and sends the room `presence_leave` when it was the
    /// user's last.
    pub(crate) async fn left<A: Adapter>(
        &self,
        socket: &SocketRef<A>,
        room: &str,
        id: SocketId,
        reply: impl FnOnce(),
    ) -> Result<(), PresenceError> {
        let namespace = socket.ns();
        let _order = self.ordered(namespace, room).await;
        let removed = self.store.remove(namespace, room, id).await;
        reply();
        if let Some(member) = removed? {
            let body = json!({ "room": room, "member": member });
            emit_or_log(to_others(socket, room, &body, PRESENCE_LEAVE).await);
        }
        Ok(())
    }
}

/// The `type` of the `error` a joiner of a presence room gets instead of
/// `presence_state` when the store (Redis) failed: the room is joined, the
/// members are unknown. The server registers the joiner once the store is
/// back (the others then get `presence_join`).
pub const PRESENCE_UNAVAILABLE: &str = "presence_unavailable";

impl Presence {
    /// Keeps a shared store true to this server, every `every`, for as long
    /// as `io` serves (until it is closed, which empties its namespaces):
    /// renews its liveness, registers again what the store lost, and
    /// removes the members of the servers that stopped, sending each room
    /// the changes.
    pub(crate) async fn maintain<A: Adapter>(
        self: Arc<Self>,
        io: socketioxide::SocketIo<A>,
        every: Duration,
    ) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if io.nsps().is_empty() {
                return;
            }
            if let Err(e) = self.maintain_once(&io).await {
                static THROTTLE: Throttle = Throttle::new();
                if let Some(more) = THROTTLE.admit() {
                    tracing::warn!(
                        "fast-app: presence upkeep failed, retrying: {e}{}",
                        Throttle::more(more)
                    );
                }
            }
        }
    }

    /// One round of [`maintain`](Self::maintain).
    pub(crate) async fn maintain_once<A: Adapter>(
        &self,
        io: &socketioxide::SocketIo<A>,
    ) -> Result<(), PresenceError> {
        use std::sync::atomic::Ordering::SeqCst;
        let renewal = self.store.renew().await?;
        // A store that lost this server lost the others too (a restart): the
        // announcements they and this server make as they register again go
        // through pub/sub, which drops what a server not yet subscribed again
        // should have heard. So this server's sockets get the members afresh,
        // at the next rounds, once every server has registered again.
        let refresh = match renewal.lost {
            true => self.refreshes.swap(REFRESHES, SeqCst) > 0,
            false => self
                .refreshes
                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                .is_ok(),
        };
        for room in renewal.resync {
            let _order = self.ordered(&room.namespace, &room.room).await;
            for change in self.store.resync(&room).await? {
                let (event, member) = match change {
                    Change::Joined(member) => (PRESENCE_JOIN, member),
                    Change::Left(member) => (PRESENCE_LEAVE, member),
                };
                announce(io, &room, event, &member).await;
            }
        }
        if refresh {
            for room in self.store.local_rooms() {
                let _order = self.ordered(&room.namespace, &room.room).await;
                let members = self.store.members(&room.namespace, &room.room).await?;
                if let Some(ns) = io.of(&room.namespace) {
                    let body = json!({ "room": room.room, "members": members });
                    emit_or_log(ns.local().to(room.room.clone()).emit(PRESENCE_STATE, &body).await);
                }
            }
        }
        for GoneServer { server, rooms } in self.store.gone().await? {
            for room in &rooms {
                let _order = self.ordered(&room.namespace, &room.room).await;
                for member in self.store.sweep(&server, room).await? {
                    announce(io, room, PRESENCE_LEAVE, &member).await;
                }
            }
            self.store.forget(&server).await?;
        }
        Ok(())
    }
}

/// Sends `room` a presence event on behalf of no socket.
async fn announce<A: Adapter>(
    io: &socketioxide::SocketIo<A>,
    room: &RoomRef,
    event: &'static str,
    member: &Member,
) {
    let Some(ns) = io.of(&room.namespace) else { return };
    let body = json!({ "room": room.room, "member": member });
    let to = |here_only: bool| {
        let ns = ns.clone();
        let ns = if here_only { ns.local() } else { ns };
        ns.to(room.room.clone())
    };
    emit_or_log(emit_here_at_least(to, event, &body).await);
}

/// Emits `body` to `room` but `socket`, on every server.
async fn to_others<A: Adapter>(
    socket: &SocketRef<A>,
    room: &str,
    body: &Value,
    event: &'static str,
) -> Result<(), socketioxide::BroadcastError> {
    let to = |here_only: bool| match here_only {
        true => socket.local().to(room.to_owned()),
        false => socket.to(room.to_owned()),
    };
    emit_here_at_least(to, event, body).await
}

fn emit_or_log<E: fmt::Display>(result: Result<(), E>) {
    if let Err(e) = result {
        tracing::debug!("fast-app: presence event not sent: {e}");
    }
}

/// Presence in this process's memory: the in-process adapter's store.
#[derive(Default)]
pub(crate) struct MemoryStore {
    rooms: Mutex<HashMap<RoomRef, RoomMembers>>,
}

#[derive(Default)]
struct RoomMembers {
    /// Each user's member and number of connections, by user id.
    users: BTreeMap<String, (Member, usize)>,
    /// Each connection's user id.
    sockets: HashMap<SocketId, String>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RoomRef, RoomMembers>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemoryStore {
    fn add<'a>(
        &'a self,
        namespace: &'a str,
        room: &'a str,
        socket: SocketId,
        member: &'a Member,
    ) -> BoxFuture<'a, Result<Added, PresenceError>> {
        let mut rooms = self.lock();
        let entry = rooms.entry(RoomRef::new(namespace, room)).or_default();
        let first = match entry.sockets.get(&socket) {
            // The same connection joined again: nothing changes.
            Some(_) => false,
            None => {
                entry.sockets.insert(socket, member.id.clone());
                let (_, count) = entry
                    .users
                    .entry(member.id.clone())
                    .or_insert_with(|| (member.clone(), 0));
                *count += 1;
                *count == 1
            }
        };
        let members = entry.users.values().map(|(member, _)| member.clone()).collect();
        Box::pin(async move { Ok(Added { first, members }) })
    }

    fn remove<'a>(
        &'a self,
        namespace: &'a str,
        room: &'a str,
        socket: SocketId,
    ) -> BoxFuture<'a, Result<Option<Member>, PresenceError>> {
        let mut rooms = self.lock();
        let key = RoomRef::new(namespace, room);
        let mut last = None;
        if let Some(entry) = rooms.get_mut(&key) {
            if let Some(user) = entry.sockets.remove(&socket)
                && let Some((_, count)) = entry.users.get_mut(&user)
            {
                *count -= 1;
                if *count == 0 {
                    last = entry.users.remove(&user).map(|(member, _)| member);
                }
            }
            if entry.sockets.is_empty() {
                rooms.remove(&key);
            }
        }
        Box::pin(async move { Ok(last) })
    }

    fn members<'a>(
        &'a self,
        namespace: &'a str,
        room: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Member>, PresenceError>> {
        let members = self
            .lock()
            .get(&RoomRef::new(namespace, room))
            .map(|entry| entry.users.values().map(|(member, _)| member.clone()).collect())
            .unwrap_or_default();
        Box::pin(async move { Ok(members) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_user_is_a_member_from_its_first_connection_to_its_last() {
        block_on(async {
            let store = MemoryStore::default();
            let alice = Member::new("alice", json!({ "name": "Alice" }));
            let (tab1, tab2) = (SocketId::random(), SocketId::random());
            let added = store.add("/", "chat|1", tab1, &alice).await.unwrap();
            assert!(added.first);
            assert_eq!(added.members, std::slice::from_ref(&alice));
            assert!(!store.add("/", "chat|1", tab2, &alice).await.unwrap().first);
            assert!(
                !store.add("/", "chat|1", tab2, &alice).await.unwrap().first,
                "a second join of one tab"
            );
            assert_eq!(
                store.members("/", "chat|1").await.unwrap(),
                std::slice::from_ref(&alice)
            );
            assert_eq!(store.remove("/", "chat|1", tab1).await.unwrap(), None);
            assert_eq!(store.remove("/", "chat|1", tab2).await.unwrap(), Some(alice));
            assert_eq!(store.remove("/", "chat|1", tab2).await.unwrap(), None);
            assert!(store.members("/", "chat|1").await.unwrap().is_empty());
            assert!(store.lock().is_empty(), "an empty room is forgotten");
        });
    }

    #[test]
    fn a_room_waits_for_its_own_turn_only_and_turns_are_forgotten() {
        block_on(async {
            let presence = Presence::in_memory();
            let chat = presence.ordered("/", "chat|1").await;
            // Another room goes on at once.
            let other = tokio::time::timeout(Duration::from_secs(1), presence.ordered("/", "chat|2")).await;
            assert!(other.is_ok(), "chat|2 waited for chat|1");
            drop(other);
            // The same room waits until the turn is given back.
            let same = presence.ordered("/", "chat|1");
            tokio::pin!(same);
            assert!(
                tokio::time::timeout(Duration::from_millis(50), same.as_mut())
                    .await
                    .is_err(),
                "chat|1 did not wait for its turn"
            );
            drop(chat);
            drop(same.await);
            assert!(
                presence.order.lock().unwrap().is_empty(),
                "turns nobody holds are forgotten"
            );
        });
    }

    #[test]
    fn rooms_of_different_namespaces_are_different_rooms() {
        block_on(async {
            let store = MemoryStore::default();
            let bob = Member::new("bob", Value::Null);
            assert!(
                store
                    .add("/", "lobby", SocketId::random(), &bob)
                    .await
                    .unwrap()
                    .first
            );
            let admin = store
                .add("/admin", "lobby", SocketId::random(), &bob)
                .await
                .unwrap();
            assert!(admin.first);
            assert_eq!(store.members("/admin", "lobby").await.unwrap().len(), 1);
        });
    }
}
