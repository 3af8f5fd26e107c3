//! Presence in Redis: every server's members of every presence room, with
//! each server's liveness, so that the others remove the members of a
//! server that stopped without leaving.
//!
//! Per room, one hash `<prefix>:presence:<namespace>#<room>` holds
//!
//! - `s:<server>:<socket>` → the connection's user id, one per connection
//!   (a socket's public id, never its session id),
//! - `u:<user>` → how many connections the user has in the room,
//! - `i:<user>` → the user's member (`{"id", "info"}`), while it has one.
//!
//! Each change of a room is one Lua script on that one key (so it is atomic,
//! and a cluster keeps it on one node). Beside them, the sorted set
//! `<prefix>:presence-servers` holds each server's last renewal (Redis'
//! own clock), and `<prefix>:presence-rooms:<server>` the rooms where the
//! server registered connections.
//!
//! A server mirrors what it registered. When Redis lost it (a restart, or
//! the others took the server as gone) or a change failed, the server
//! registers its mirror again, room by room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Script;

use super::RedisDriver;
use crate::check::BoxFuture;
use crate::error::{PresenceError, RedisDriverError};
use crate::presence::{Added, Change, GoneServer, Member, Renewal, RoomRef, Store};
use crate::socket_id::SocketId;

/// `KEYS[1]` room; `ARGV` server, socket, user, member: `{first, members}`,
/// `first` 1 when the user's first connection in the room, else 0 (a
/// connection already there is not counted twice), and the room's members
/// after it.
const ADD: &str = r"
local socket = 's:' .. ARGV[1] .. ':' .. ARGV[2]
local first = 0
if redis.call('HSETNX', KEYS[1], socket, ARGV[3]) == 1 then
  if redis.call('HINCRBY', KEYS[1], 'u:' .. ARGV[3], 1) == 1 then
    redis.call('HSET', KEYS[1], 'i:' .. ARGV[3], ARGV[4])
    first = 1
  end
end
local members = {}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'i:' then members[#members + 1] = fields[i + 1] end
end
return {first, members}
";

/// `KEYS[1]` room; `ARGV` server, socket: the member when it was the
/// user's last connection in the room, else nil.
const REMOVE: &str = r"
local socket = 's:' .. ARGV[1] .. ':' .. ARGV[2]
local user = redis.call('HGET', KEYS[1], socket)
if not user then return false end
redis.call('HDEL', KEYS[1], socket)
if redis.call('HINCRBY', KEYS[1], 'u:' .. user, -1) > 0 then return false end
local member = redis.call('HGET', KEYS[1], 'i:' .. user)
redis.call('HDEL', KEYS[1], 'u:' .. user, 'i:' .. user)
return member
";

/// `KEYS[1]` room; `ARGV` a gone server: removes its connections, returns
/// the members of the users that had no other.
const SWEEP: &str = r"
local prefix = 's:' .. ARGV[1] .. ':'
local fields = redis.call('HGETALL', KEYS[1])
local gone = {}
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, #prefix) == prefix then
    local user = fields[i + 1]
    redis.call('HDEL', KEYS[1], fields[i])
    if redis.call('HINCRBY', KEYS[1], 'u:' .. user, -1) <= 0 then
      local member = redis.call('HGET', KEYS[1], 'i:' .. user)
      redis.call('HDEL', KEYS[1], 'u:' .. user, 'i:' .. user)
      if member then gone[#gone + 1] = member end
    end
  end
end
return gone
";

/// `KEYS[1]` servers; `ARGV` server: renews its liveness at Redis' time;
/// 1 when Redis did not have it (restarted, or the server was taken as gone).
const RENEW: &str = r"
local now = redis.call('TIME')
return redis.call('ZADD', KEYS[1], now[1] * 1000 + math.floor(now[2] / 1000), ARGV[1])
";

/// `KEYS[1]` servers; `ARGV` max age (ms): the servers not renewed since.
const GONE: &str = r"
local now = redis.call('TIME')
local limit = now[1] * 1000 + math.floor(now[2] / 1000) - tonumber(ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. limit)
";

/// The scripts, hashed once.
struct Scripts {
    add: Script,
    remove: Script,
    sweep: Script,
    renew: Script,
    gone: Script,
}

impl Scripts {
    fn get() -> &'static Self {
        static SCRIPTS: std::sync::OnceLock<Scripts> = std::sync::OnceLock::new();
        SCRIPTS.get_or_init(|| Self {
            add: Script::new(ADD),
            remove: Script::new(REMOVE),
            sweep: Script::new(SWEEP),
            renew: Script::new(RENEW),
            gone: Script::new(GONE),
        })
    }
}

/// Presence kept in Redis, for a server (which registers its connections
/// and keeps its liveness) or an emitter (which only reads).
pub(crate) struct RedisStore {
    driver: RedisDriver,
    prefix: String,
    /// This server's id in the store, or `None` for an emitter.
    server: Option<String>,
    /// How long a server may go without renewing before the others take it as gone.
    grace: Duration,
    mirror: Mutex<Mirror>,
    /// Whether this server has renewed its liveness once.
    renewed: std::sync::atomic::AtomicBool,
}

/// What this server registered, as Redis should hold it.
#[derive(Default)]
struct Mirror {
    rooms: HashMap<RoomRef, HashMap<SocketId, Member>>,
    /// Removals Redis did not confirm, to do again.
    removals: HashMap<RoomRef, Vec<SocketId>>,
    /// Rooms where Redis may differ from the mirror (a change failed).
    stale: Vec<RoomRef>,
}

impl RedisStore {
    /// A server's store: `timeout` is the presence timeout.
    pub(crate) fn server(driver: RedisDriver, prefix: &str, timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            driver,
            prefix: prefix.to_owned(),
            server: Some(SocketId::random().to_string()),
            grace: timeout / 2,
            mirror: Mutex::default(),
            renewed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// An emitter's store: it reads members, and registers nothing.
    pub(crate) fn reader(driver: RedisDriver, prefix: &str) -> Arc<Self> {
        Arc::new(Self {
            driver,
            prefix: prefix.to_owned(),
            server: None,
            grace: Duration::ZERO,
            mirror: Mutex::default(),
            renewed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn mirror(&self) -> std::sync::MutexGuard<'_, Mirror> {
        self.mirror.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn room_key(&self, namespace: &str, room: &str) -> String {
        format!("{}:presence:{namespace}#{room}", self.prefix)
    }

    fn servers_key(&self) -> String {
        format!("{}:presence-servers", self.prefix)
    }

    fn rooms_key(&self, server: &str) -> String {
        format!("{}:presence-rooms:{server}", self.prefix)
    }

    fn server_id(&self) -> Result<&str, PresenceError> {
        self.server
            .as_deref()
            .ok_or_else(|| PresenceError::Store("an emitter registers no connections".into()))
    }

    /// Registers one connection in Redis, listing the room as one of this
    /// server's when `list`.
    async fn register(
        &self,
        room: &RoomRef,
        socket: SocketId,
        member: &Member,
        list: bool,
    ) -> Result<Added, PresenceError> {
        let server = self.server_id()?;
        let json = serde_json::to_string(member).map_err(|e| PresenceError::Store(e.to_string()))?;
        // Listed first: a server that dies between the two steps leaves a
        // listed room with nothing of its own, never its connections unlisted.
        if list {
            let listed = serde_json::to_string(&(&room.namespace, &room.room)).unwrap_or_default();
            self.driver
                .query::<i64>(redis::cmd("SADD").arg(self.rooms_key(server)).arg(listed))
                .await
                .map_err(store)?;
        }
        let (first, members): (i64, Vec<String>) = self
            .driver
            .eval(
                Scripts::get()
                    .add
                    .key(self.room_key(&room.namespace, &room.room))
                    .arg(server)
                    .arg(socket.to_string())
                    .arg(member.id())
                    .arg(json),
            )
            .await
            .map_err(store)?;
        Ok(Added {
            first: first == 1,
            members: sorted(members.iter().filter_map(|json| parse_member(json)).collect()),
        })
    }

    /// Unregisters one connection: its member when it was its user's last.
    async fn unregister(&self, room: &RoomRef, socket: SocketId) -> Result<Option<Member>, PresenceError> {
        let server = self.server_id()?;
        let member: Option<String> = self
            .driver
            .eval(
                Scripts::get()
                    .remove
                    .key(self.room_key(&room.namespace, &room.room))
                    .arg(server)
                    .arg(socket.to_string()),
            )
            .await
            .map_err(store)?;
        Ok(member.and_then(|json| parse_member(&json)))
    }

    fn mark_stale(&self, room: &RoomRef) {
        let mut mirror = self.mirror();
        if !mirror.stale.contains(room) {
            mirror.stale.push(room.clone());
        }
    }
}

fn store(e: RedisDriverError) -> PresenceError {
    PresenceError::Store(e.to_string())
}

fn sorted(mut members: Vec<Member>) -> Vec<Member> {
    members.sort_by(|a, b| a.id().cmp(b.id()));
    members
}

fn parse_member(json: &str) -> Option<Member> {
    match serde_json::from_str(json) {
        Ok(member) => Some(member),
        Err(e) => {
            tracing::warn!("fast-app: a presence member in redis is not valid: {e}");
            None
        }
    }
}

impl Store for Arc<RedisStore> {
    fn add<'a>(
        &'a self,
        namespace: &'a str,
        room: &'a str,
        socket: SocketId,
        member: &'a Member,
    ) -> BoxFuture<'a, Result<Added, PresenceError>> {
        Box::pin(async move {
            let room = RoomRef::new(namespace, room);
            // The room is listed as this server's with its first connection here.
            let list = {
                let mut mirror = self.mirror();
                let sockets = mirror.rooms.entry(room.clone()).or_default();
                let list = sockets.is_empty();
                sockets.insert(socket, member.clone());
                if let Some(removals) = mirror.removals.get_mut(&room) {
                    removals.retain(|s| *s != socket);
                }
                list
            };
            let result = self.register(&room, socket, member, list).await;
            if result.is_err() {
                self.mark_stale(&room);
            }
            result
        })
    }

    fn remove<'a>(
        &'a self,
        namespace: &'a str,
        room: &'a str,
        socket: SocketId,
    ) -> BoxFuture<'a, Result<Option<Member>, PresenceError>> {
        Box::pin(async move {
            let room = RoomRef::new(namespace, room);
            let emptied = {
                let mut mirror = self.mirror();
                match mirror.rooms.get_mut(&room) {
                    Some(sockets) => {
                        sockets.remove(&socket);
                        let emptied = sockets.is_empty();
                        if emptied {
                            mirror.rooms.remove(&room);
                        }
                        emptied
                    }
                    None => false,
                }
            };
            let result = self.unregister(&room, socket).await;
            if emptied && result.is_ok() {
                // This server has no connection left there: unlist the room.
                let listed = serde_json::to_string(&(&room.namespace, &room.room)).unwrap_or_default();
                let server = self.server_id()?;
                let _ = self
                    .driver
                    .query::<i64>(redis::cmd("SREM").arg(self.rooms_key(server)).arg(listed))
                    .await;
            }
            if result.is_err() {
                self.mirror()
                    .removals
                    .entry(room.clone())
                    .or_default()
                    .push(socket);
                self.mark_stale(&room);
            }
            result
        })
    }

    fn members<'a>(
        &'a self,
        namespace: &'a str,
        room: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Member>, PresenceError>> {
        Box::pin(async move {
            let fields: HashMap<String, String> = self
                .driver
                .query(redis::cmd("HGETALL").arg(self.room_key(namespace, room)))
                .await
                .map_err(store)?;
            let members = fields
                .iter()
                .filter(|(field, _)| field.starts_with("i:"))
                .filter_map(|(_, json)| parse_member(json))
                .collect();
            Ok(sorted(members))
        })
    }

    fn renew(&self) -> BoxFuture<'_, Result<Renewal, PresenceError>> {
        Box::pin(async move {
            let server = self.server_id()?;
            let lost: i64 = self
                .driver
                .eval(Scripts::get().renew.key(self.servers_key()).arg(server))
                .await
                .map_err(store)?;
            let mut mirror = self.mirror();
            let mut rooms = std::mem::take(&mut mirror.stale);
            if lost == 1 {
                for room in mirror.rooms.keys().chain(mirror.removals.keys()) {
                    if !rooms.contains(room) {
                        rooms.push(room.clone());
                    }
                }
            }
            // The first renewal adds this server: nothing was lost then.
            let renewed_before = self.renewed.swap(true, std::sync::atomic::Ordering::SeqCst);
            Ok(Renewal {
                resync: rooms,
                lost: lost == 1 && renewed_before,
            })
        })
    }

    fn local_rooms(&self) -> Vec<RoomRef> {
        self.mirror().rooms.keys().cloned().collect()
    }

    fn resync<'a>(&'a self, room: &'a RoomRef) -> BoxFuture<'a, Result<Vec<Change>, PresenceError>> {
        Box::pin(async move {
            let (sockets, removals) = {
                let mut mirror = self.mirror();
                let sockets: Vec<(SocketId, Member)> = mirror
                    .rooms
                    .get(room)
                    .map(|s| s.iter().map(|(id, m)| (*id, m.clone())).collect())
                    .unwrap_or_default();
                (sockets, mirror.removals.remove(room).unwrap_or_default())
            };
            let mut changes = Vec::new();
            let mut result = Ok(());
            for socket in &removals {
                match self.unregister(room, *socket).await {
                    Ok(Some(member)) => changes.push(Change::Left(member)),
                    Ok(None) => {}
                    Err(e) => result = Err(e),
                }
            }
            for (socket, member) in &sockets {
                match self.register(room, *socket, member, true).await {
                    Ok(added) if added.first => changes.push(Change::Joined(member.clone())),
                    Ok(_) => {}
                    Err(e) => result = Err(e),
                }
            }
            if let Err(e) = result {
                let mut mirror = self.mirror();
                mirror.removals.entry(room.clone()).or_default().extend(removals);
                drop(mirror);
                self.mark_stale(room);
                // What was done is announced; the rest is tried again.
                if changes.is_empty() {
                    return Err(e);
                }
            }
            Ok(changes)
        })
    }

    fn gone(&self) -> BoxFuture<'_, Result<Vec<GoneServer>, PresenceError>> {
        Box::pin(async move {
            let me = self.server_id()?;
            let max_age = u64::try_from(self.grace.as_millis()).unwrap_or(u64::MAX);
            let servers: Vec<String> = self
                .driver
                .eval(Scripts::get().gone.key(self.servers_key()).arg(max_age))
                .await
                .map_err(store)?;
            let mut gone = Vec::new();
            for server in servers.into_iter().filter(|s| s != me) {
                let listed: Vec<String> = self
                    .driver
                    .query(redis::cmd("SMEMBERS").arg(self.rooms_key(&server)))
                    .await
                    .map_err(store)?;
                let rooms = listed
                    .iter()
                    .filter_map(|l| serde_json::from_str::<(String, String)>(l).ok())
                    .map(|(namespace, room)| RoomRef { namespace, room })
                    .collect();
                gone.push(GoneServer { server, rooms });
            }
            Ok(gone)
        })
    }

    fn sweep<'a>(
        &'a self,
        server: &'a str,
        room: &'a RoomRef,
    ) -> BoxFuture<'a, Result<Vec<Member>, PresenceError>> {
        Box::pin(async move {
            let members: Vec<String> = self
                .driver
                .eval(
                    Scripts::get()
                        .sweep
                        .key(self.room_key(&room.namespace, &room.room))
                        .arg(server),
                )
                .await
                .map_err(store)?;
            Ok(members.iter().filter_map(|json| parse_member(json)).collect())
        })
    }

    fn forget<'a>(&'a self, server: &'a str) -> BoxFuture<'a, Result<(), PresenceError>> {
        Box::pin(async move {
            self.driver
                .query::<i64>(redis::cmd("DEL").arg(self.rooms_key(server)))
                .await
                .map_err(store)?;
            self.driver
                .query::<i64>(redis::cmd("ZREM").arg(self.servers_key()).arg(server))
                .await
                .map_err(store)?;
            Ok(())
        })
    }
}
