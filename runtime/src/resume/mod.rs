//! Nothing missed across a reconnect: per-room history, and connections
//! that resume where they left off. The protocol is in the guide's
//! "Resume" section; this module is its server side.
//!
//! A broadcast to a room that keeps history is numbered there, kept, and
//! emitted twice: as before to plain connections, and with its positions
//! as one more argument to resumable ones. A resumable connection in such
//! a room `R` (joined with `join_K`, or by a resume) is in its *shadow*
//! `~fa|R` too: the positions go to the shadows, the plain event to the
//! rooms but their shadows' members. Each emit costs what the room's own
//! members cost, whatever else the namespace holds.
//!
//! One lock orders it all: numbering and emitting a broadcast, and putting
//! a resumed connection back in its rooms with what it missed. So a
//! connection receives a room's events in the order of their numbers, and a
//! resumed one gets every event either in what it missed or live after it,
//! never both, never neither. A resume checks the token and the guards
//! before CONNECT, and joins the rooms after it, under the lock.

pub(crate) mod history;
mod shared;
mod token;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::adapter::ServerAdapter;
use crate::error::{BroadcastError, Refusal, ServerError};
use crate::redis::RedisDriver;
use crate::registry::{Done, Membership, NamespaceDef};
use crate::room::SEPARATOR;
use crate::session::Session;
use crate::socket_id::SocketId;
pub(crate) use history::position_json;
use history::{History, Position};
use shared::Shared;
use token::Tokens;

/// How long a resume is possible after a connection is lost, and events
/// are kept: 2 minutes.
pub const DEFAULT_RESUME_WINDOW: Duration = Duration::from_secs(120);

/// The `auth` field a client opts in with, and resumes with.
pub const RESUME_AUTH: &str = "fa_resume";
/// The event that hands a resumable connection its token.
pub const FA_SESSION: &str = "fa_session";
/// The event that closes a resume: what was restored.
pub const FA_RESUMED: &str = "fa_resumed";

/// This process's clock, in milliseconds since the Unix epoch: tokens'
/// issue times, and the time of events kept in Redis.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The mark of a resumable connection, in its extensions.
#[derive(Clone, Copy)]
struct Resumable;

/// The shadow of `room`: its resumable members, who get positions. `~` is
/// not in the rooms fast-app names (`key|...`, `#socket|...`).
fn shadow(room: &str) -> String {
    format!("~fa|{room}")
}

/// The most rooms one resume restores.
const MAX_ROOMS: usize = 100;

/// Where history is kept.
pub(crate) enum Keep {
    /// In this process: the in-process adapter.
    Memory,
    /// In Redis, shared by the servers and emitters of `driver`'s prefix.
    /// `buffer`: the broadcasts received and not yet delivered that a
    /// server holds; past it, they are read back from the rooms' logs.
    /// `url`: Redis' (without its password), for errors.
    Redis {
        driver: RedisDriver,
        prefix: String,
        buffer: usize,
        url: String,
    },
}

/// The history itself.
enum Store {
    Memory(History),
    Redis(Arc<Shared>),
}

/// History and resume for a server whose namespaces have rooms that keep history.
pub(crate) struct Resume {
    store: Store,
    window: Duration,
    tokens: Tokens,
    /// Events kept per room, by namespace and room key.
    limits: HashMap<(&'static str, &'static str), usize>,
    /// Held while numbering and emitting (in memory) or delivering (from
    /// Redis), and while resuming (see the module).
    order: tokio::sync::Mutex<()>,
    /// Resumable connections open, per namespace: without any, a broadcast
    /// is one emit, as to rooms without history.
    resumable: HashMap<&'static str, std::sync::atomic::AtomicUsize>,
}

impl Resume {
    /// The resume of `namespaces`, if one of their rooms keeps history.
    /// Without a `secret`, tokens are signed with a random one: this
    /// process's, or on Redis the cluster's, kept there by its first server.
    pub async fn of(
        namespaces: &[&'static NamespaceDef],
        window: Duration,
        secret: Option<Vec<u8>>,
        keep: Keep,
    ) -> Result<Option<Arc<Self>>, ServerError> {
        let limits: HashMap<_, _> = namespaces
            .iter()
            .flat_map(|def| {
                def.rooms
                    .iter()
                    .map(move |room| ((def.path, room.key), room.history))
            })
            .filter(|&(_, history)| history > 0)
            .collect();
        if limits.is_empty() {
            return Ok(None);
        }
        let (store, secret) = match keep {
            Keep::Memory => (Store::Memory(History::new(window)), secret),
            Keep::Redis {
                driver,
                prefix,
                buffer,
                url,
            } => {
                let shared = Shared::new(driver, &prefix, window, buffer, url);
                let secret = match secret {
                    Some(secret) => Some(secret),
                    None => Some(shared.secret().await.map_err(|e| shared.error(e))?),
                };
                (Store::Redis(Arc::new(shared)), secret)
            }
        };
        let secret = secret.unwrap_or_else(|| rand::random::<[u8; 32]>().to_vec());
        let resumable = limits.keys().map(|&(ns, _)| (ns, Default::default())).collect();
        Ok(Some(Arc::new(Self {
            resumable,
            store,
            window,
            tokens: Tokens::new(secret),
            limits,
            order: tokio::sync::Mutex::new(()),
        })))
    }

    /// On Redis: subscribes to the channels of the namespaces with history,
    /// and delivers them to this server's connections until it is closed.
    pub async fn follow<A: Adapter>(self: &Arc<Self>, io: &SocketIo<A>) -> Result<(), ServerError> {
        let Store::Redis(shared) = &self.store else {
            return Ok(());
        };
        let mut namespaces: Vec<&'static str> = self.limits.keys().map(|(ns, _)| *ns).collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        shared
            .follow(self, io, &namespaces)
            .await
            .map_err(|e| shared.error(e))
    }

    /// Whether `namespace` has resumable connections open.
    fn has_resumable(&self, namespace: &str) -> bool {
        self.resumable
            .get(namespace)
            .is_some_and(|n| n.load(std::sync::atomic::Ordering::Acquire) > 0)
    }

    /// Whether a room of `namespace` keeps history.
    pub fn serves(&self, namespace: &str) -> bool {
        self.limits.keys().any(|(ns, _)| *ns == namespace)
    }

    /// Whether `room` of `namespace` keeps history.
    pub fn keeps(&self, namespace: &str, room: &str) -> bool {
        self.limit(namespace, room).is_some()
    }

    /// How many events `room` keeps, if it keeps any.
    fn limit(&self, namespace: &str, room: &str) -> Option<usize> {
        let key = room.split(SEPARATOR).next()?;
        self.limits.get(&(namespace, key)).copied()
    }

    /// In memory: drops what is past the window, every quarter of it,
    /// until the server is closed. (Redis expires its keys itself.)
    pub async fn sweep<A: Adapter>(self: Arc<Self>, io: SocketIo<A>) {
        let Store::Memory(history) = &self.store else {
            return;
        };
        let mut every = tokio::time::interval((self.window / 4).max(Duration::from_millis(10)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if io.nsps().is_empty() {
                return;
            }
            history.sweep();
        }
    }
}

/// Emits `event` to `rooms` of `namespace` (but the connection `except`),
/// numbering it in the rooms that keep history: plain connections get it as
/// before, resumable ones with its positions. `None` when no room keeps
/// history, and the caller emits as usual.
pub(crate) async fn emit<A: ServerAdapter, T: Serialize + Sync + ?Sized>(
    io: &SocketIo<A>,
    resume: &Resume,
    namespace: &str,
    rooms: &[String],
    except: Option<SocketId>,
    event: &'static str,
    payload: &T,
) -> Option<Result<(), BroadcastError>> {
    let kept: Vec<(&str, usize)> = rooms
        .iter()
        .filter_map(|room| resume.limit(namespace, room).map(|limit| (room.as_str(), limit)))
        .collect();
    if kept.is_empty() {
        return None;
    }
    let Some(ns) = io.of(namespace) else {
        return Some(Err(BroadcastError::UnknownNamespace {
            event: event.to_owned(),
            namespace: namespace.to_owned(),
        }));
    };
    let raw = match serde_json::value::to_raw_value(payload) {
        Ok(raw) => Arc::<RawValue>::from(raw),
        Err(source) => {
            return Some(Err(BroadcastError::Serialize {
                event: event.to_owned(),
                source,
            }));
        }
    };
    let history = match &resume.store {
        Store::Memory(history) => history,
        // Every server delivers it from the channel, this one too.
        Store::Redis(shared) => {
            let published = shared.publish(namespace, &kept, rooms, except, event, &raw).await;
            return Some(published.map_err(|e| BroadcastError::Transport {
                event: event.to_owned(),
                namespace: namespace.to_owned(),
                source: Box::new(e),
            }));
        }
    };
    let _order = resume.order.lock().await;
    let offsets = history.record(namespace, &kept, event, raw.clone(), except);
    let kept = kept.iter().map(|&(room, _)| room);
    let resumable = resume.has_resumable(namespace);
    let outcome = emit_both(ns, rooms, kept, resumable, except, event, &*raw, &*offsets).await;
    Some(BroadcastError::from_outcome(namespace, event, outcome))
}

/// Emits `payload` to `rooms` (but `except`): to their members, but the
/// resumable members of `kept` (the rooms that keep history), as is; to
/// those, with `offsets` as one more argument. Without `resumable`
/// connections in the namespace, it is one plain emit.
#[allow(clippy::too_many_arguments)]
async fn emit_both<'a, A: Adapter, T: Serialize + ?Sized, O: Serialize + ?Sized>(
    ns: socketioxide::operators::BroadcastOperators<A>,
    rooms: &[String],
    kept: impl Iterator<Item = &'a str>,
    resumable: bool,
    except: Option<SocketId>,
    event: &str,
    payload: &T,
    offsets: &O,
) -> Result<(), socketioxide::BroadcastError> {
    if !resumable {
        let leave_out: Vec<String> = except.map(|id| id.room()).into_iter().collect();
        return ns.to(rooms.to_vec()).except(leave_out).emit(event, payload).await;
    }
    let shadows: Vec<String> = kept.map(shadow).collect();
    let mut leave_out = shadows.clone();
    leave_out.extend(except.map(|id| id.room()));
    let plain = ns
        .clone()
        .to(rooms.to_vec())
        .except(leave_out)
        .emit(event, payload)
        .await;
    let resumable = ns
        .to(shadows)
        .except(except.map(|id| id.room()).into_iter().collect::<Vec<_>>())
        .emit(event, &(payload, offsets))
        .await;
    plain.and(resumable)
}

/// What a connection asked for with `auth.fa_resume`.
pub(crate) enum Asked {
    /// Nothing: a plain connection.
    Plain,
    /// To be resumable, and to resume when `request` has a token.
    Resumable(Value),
}

impl Asked {
    /// Reads `auth.fa_resume`.
    pub fn of(auth: &Value) -> Self {
        match auth.get(RESUME_AUTH) {
            Some(request @ Value::Object(_)) => Asked::Resumable(request.clone()),
            _ => Asked::Plain,
        }
    }
}

/// What a resume restores, once the connection is connected.
#[derive(Default)]
pub(crate) struct Restored {
    /// The rooms to join, each with the position the client gave.
    joins: Vec<(String, Option<Position>)>,
    /// The connection the token was issued to.
    old: Option<SocketId>,
    /// Each requested room's outcome, for `fa_resumed`, in request order;
    /// `recovered` is filled in once joined.
    rooms: Vec<Value>,
    /// Why nothing was restored.
    error: Option<String>,
    /// The joins done in rooms that keep presence, registered once connected.
    pub presence: Vec<Done>,
}

/// A join through the room's own operation (extract, guard, `on_join`)
/// whose membership waits: the rooms are joined once connected.
#[derive(Default)]
struct Deferred(std::sync::Mutex<Vec<String>>);

impl Membership for Deferred {
    fn join_room(&self, room: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(room);
    }

    fn leave_room(&self, _room: String) {}
}

/// Marks a connection that opts in as resumable and, when it asks to resume,
/// checks its token and each room's join (extract and guard). Runs in the
/// connect middleware, after `connect`; [`send_restored`] joins the rooms.
pub(crate) async fn restore<A: Adapter>(
    resume: &Resume,
    def: &'static NamespaceDef,
    session: &Session,
    socket: &SocketRef<A>,
    asked: &Asked,
) -> Option<Restored> {
    let Asked::Resumable(request) = asked else {
        return None;
    };
    socket.extensions.insert(Resumable);
    if let Some(open) = resume.resumable.get(def.path) {
        open.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
    let token = request.get("token").and_then(Value::as_str)?;
    let mut restored = Restored::default();
    let Some(user) = session.user_id() else {
        restored.error =
            Some("the session names no user: the namespace's connect must call `session.identify`".into());
        return Some(restored);
    };
    let claims = match resume.tokens.check(token, &user, resume.window) {
        Ok(claims) => claims,
        Err(e) => {
            restored.error = Some(e.to_string());
            return Some(restored);
        }
    };
    restored.old = Some(claims.socket);
    let rooms = request
        .get("rooms")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for asked in rooms.iter().take(MAX_ROOMS) {
        let key = asked.get("key").and_then(Value::as_str).unwrap_or_default();
        let Some(entry) = def.rooms.iter().find(|room| room.key == key) else {
            let error = json!({ "type": "validation_error", "msg": format!("no room has key `{key}`") });
            restored
                .rooms
                .push(json!({ "key": key, "recovered": false, "error": error }));
            continue;
        };
        let payload = asked.get("payload").cloned().unwrap_or(Value::Null);
        let deferred = Deferred::default();
        let done = match (entry.join)(session, payload, &deferred).await {
            Ok(done) => done,
            Err(refusal) => {
                let mut outcome =
                    json!({ "key": key, "recovered": false, "error": refusal_json(&refusal, key) });
                if let Refusal::Forbidden(room) = &refusal {
                    outcome["room"] = Value::String(room.clone());
                }
                restored.rooms.push(outcome);
                continue;
            }
        };
        let from = position_of(asked);
        for room in deferred.0.into_inner().unwrap_or_else(|e| e.into_inner()) {
            restored.joins.push((room, from));
        }
        restored
            .rooms
            .push(json!({ "room": done.room, "key": key, "recovered": false }));
        if done.presence {
            restored.presence.push(done);
        }
    }
    Some(restored)
}

/// The position a resume request gives for a room.
fn position_of(asked: &Value) -> Option<Position> {
    let epoch = u64::from_str_radix(asked.get("epoch")?.as_str()?, 16).ok()?;
    let offset = asked.get("offset")?.as_u64()?;
    Some(Position { epoch, offset })
}

fn refusal_json(refusal: &Refusal, key: &str) -> Value {
    match refusal {
        Refusal::Validation(e) => {
            json!({ "type": "validation_error", "msg": e.message_for(&format!("join_{key}")) })
        }
        Refusal::Forbidden(room) => json!({ "type": "forbidden", "room": room }),
    }
}

/// An event to send again.
struct Replay {
    /// Its order among what is sent again.
    seq: u64,
    event: String,
    payload: Arc<RawValue>,
    /// Its positions: one event sent to two rooms has the same in both.
    offsets: Box<RawValue>,
}

/// Once connected: joins the restored rooms and sends what they missed,
/// under the lock that orders broadcasts, then `fa_resumed`.
pub(crate) async fn send_restored<A: Adapter>(
    resume: &Resume,
    socket: &SocketRef<A>,
    mut restored: Restored,
) -> Result<(), socketioxide::SendError> {
    let namespace = socket.ns().to_owned();
    {
        let _order = resume.order.lock().await;
        let mut replay: Vec<Replay> = Vec::new();
        for (room, from) in &restored.joins {
            socket.join(room.clone());
            let mut missed = None;
            if let Some(limit) = resume.limit(&namespace, room) {
                socket.join(shadow(room));
                if let Some(from) = from {
                    missed = self::missed(resume, &namespace, room, limit, *from, restored.old).await;
                }
            }
            let outcome = restored
                .rooms
                .iter_mut()
                .find(|outcome| outcome["room"] == room.as_str());
            if let Some(outcome) = outcome {
                outcome["recovered"] = Value::Bool(missed.is_some());
            }
            replay.extend(missed.into_iter().flatten());
        }
        // Once each, in broadcast order: an event sent to two restored rooms
        // was kept in both.
        let mut sent = HashSet::new();
        replay.retain(|kept| sent.insert(kept.offsets.get().to_owned()));
        replay.sort_by_key(|kept| kept.seq);
        for kept in &replay {
            socket.emit(&kept.event, &(&*kept.payload, &*kept.offsets))?;
        }
    }
    let mut body = json!({ "rooms": restored.rooms });
    if let Some(error) = restored.error {
        body["error"] = Value::String(error);
    }
    socket.emit(FA_RESUMED, &body)
}

/// What `room` was sent after `from`, but what left out the connection
/// `skip`; `None` when it is not all kept (or Redis did not answer). Under
/// the order lock.
async fn missed(
    resume: &Resume,
    namespace: &str,
    room: &str,
    limit: usize,
    from: Position,
    skip: Option<SocketId>,
) -> Option<Vec<Replay>> {
    match &resume.store {
        Store::Memory(history) => {
            let kept = history.since(namespace, room, from, skip)?;
            let replay = kept.into_iter().filter_map(|kept| {
                Some(Replay {
                    seq: kept.seq,
                    event: kept.event.to_owned(),
                    payload: kept.payload,
                    offsets: serde_json::value::to_raw_value(&*kept.offsets).ok()?,
                })
            });
            Some(replay.collect())
        }
        Store::Redis(shared) => {
            let kept = async {
                shared.track(namespace, room).await?;
                shared.since(namespace, room, limit, from, skip).await
            };
            let kept = match kept.await {
                Ok(kept) => kept?,
                Err(e) => {
                    tracing::warn!(
                        namespace,
                        "fast-app: a resume could not read its missed events from redis: {}",
                        e.cause()
                    );
                    return None;
                }
            };
            // Rooms are read one after the other: their events keep each
            // room's order.
            let replay = kept.iter().enumerate().filter_map(|(seq, message)| {
                let m = serde_json::from_str::<shared::Message>(message).ok()?;
                Some(Replay {
                    seq: seq as u64,
                    event: m.event.to_owned(),
                    payload: m.payload.to_owned().into(),
                    offsets: m.offsets.to_owned(),
                })
            });
            Some(replay.collect())
        }
    }
}

/// Hands a resumable connection of an identified user its token.
pub(crate) fn send_token<A: Adapter>(
    resume: &Resume,
    socket: &SocketRef<A>,
    session: &Session,
) -> Result<(), socketioxide::SendError> {
    let Some(user) = session.user_id() else {
        return Ok(());
    };
    let token = resume.tokens.issue(&user, session.public_id_or_make());
    socket.emit(FA_SESSION, &json!({ "token": token }))
}

/// Whether `socket` is resumable.
pub(crate) fn is_resumable<A: Adapter>(socket: &SocketRef<A>) -> bool {
    socket.extensions.get::<Resumable>().is_some()
}

/// A connection closed: one resumable connection fewer, if it was one.
pub(crate) fn disconnected<A: Adapter>(resume: &Resume, socket: &SocketRef<A>) {
    if is_resumable(socket)
        && let Some(open) = resume.resumable.get(socket.ns())
    {
        open.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// A resumable connection that leaves `room` leaves its shadow.
pub(crate) fn left<A: Adapter>(resume: &Resume, socket: &SocketRef<A>, room: &str) {
    if resume.keeps(socket.ns(), room) {
        socket.leave(shadow(room));
    }
}

/// A joiner of `room`, if it keeps history: a resumable one joins its
/// shadow, and learns the position it starts from (on Redis, if Redis
/// answers); on Redis, the server follows the room from then on.
pub(crate) async fn joined<A: Adapter>(
    resume: &Resume,
    socket: &SocketRef<A>,
    room: &str,
    resumable: bool,
) -> Option<Value> {
    let namespace = socket.ns();
    resume.limit(namespace, room)?;
    if resumable {
        socket.join(shadow(room));
    }
    let at = match &resume.store {
        Store::Memory(_) if !resumable => return None,
        Store::Memory(history) => history.position(namespace, room),
        Store::Redis(shared) => {
            let _order = resume.order.lock().await;
            match shared.track(namespace, room).await {
                Ok(at) => at,
                Err(e) => {
                    tracing::warn!(
                        namespace,
                        "fast-app: a joiner's position could not be read from redis: {}",
                        e.cause()
                    );
                    return None;
                }
            }
        }
    };
    resumable.then(|| position_json(at.epoch, at.offset))
}
