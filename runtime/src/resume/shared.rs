//! History in Redis, shared by every server and emitter of a cluster: a
//! broadcast to a room that keeps history reaches every server's
//! connections exactly once, across a Redis blip or a re-subscribe, and a
//! client resumes on any server.
//!
//! Per namespace `ns` and room `R`, all of a namespace in one cluster slot
//! (the `{...}` tag):
//!
//! - `<prefix>:history:{ns}:room:R`, a hash: the room's `epoch` and
//!   `offset`, the number of its last event, as in the in-process history;
//! - `<prefix>:history:{ns}:log:R`, a stream: the room's kept events, by
//!   offset;
//! - `<prefix>:history:{ns}`, the channel of the namespace's broadcasts.
//!
//! A broadcast is one script: numbered in each of its rooms that keep
//! history, appended to their logs and published, at once, or not at all,
//! and then its sender is told. Every server, the sender's too, delivers
//! the channel to its own connections, in each room's order (as Centrifugo
//! does per channel): a server follows the last offset it delivered in
//! every room it has seen or served a join of, and an offset past the next
//! one means that it missed some (a reconnect, a full buffer), which it
//! reads back from the room's log first. A renewed subscription reads back
//! what followed in every room it follows.
//!
//! A room's keys outlive its last event by the resume window at least; a
//! room that starts again draws a new epoch.
//!
//! Per-room logs rather than a namespace-wide sequence with a stream of its
//! own: a broadcast then costs Redis one stream append per room instead of
//! two, 9 µs instead of 16 (`INFO commandstats`), and half the memory (see
//! bench/HISTORY.md, "Step: history on Redis"). A process's broadcasts to a
//! namespace queue, and what waits is published in one script call and one
//! message on the channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use redis::Script;
use serde::Deserialize;
use serde_json::value::RawValue;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::sync::mpsc;

use super::history::Position;
use super::{Resume, emit_both, now_ms};
use crate::error::{BroadcastError, RedisDriverError, ServerError, Throttle};
use crate::redis::RedisDriver;
use crate::socket_id::SocketId;

/// How often a server that could not read back what it missed tries again.
const RETRY: Duration = Duration::from_millis(250);

/// How deep missed events that were sent to several rooms, each with a
/// gap, are read back before the next is delivered as it comes.
const MAX_DEPTH: usize = 8;

/// Publishes broadcasts, many to a call. `ARGV` epoch candidate, the keys'
/// lifetime (ms), `PUBLISH` or `SPUBLISH`, the sender's clock (ms), how long
/// after a renewal the lifetime is renewed again (ms), then for each
/// broadcast: how many of its rooms keep history, event, except, rooms,
/// payload (each as JSON), then each such room's name (JSON) and limit.
/// `KEYS` for each broadcast: its channel (the same for all: one namespace),
/// then each such room's hash and log. Returns how many were published: all
/// in one message on the channel, an array of them.
///
/// The message is built here, where its numbers are given: `{"e", "x",
/// "r", "o": {"fa_offsets": {room: {"epoch", "offset"}}}, "p"}`; a log
/// entry adds the sender's clock (`t`). A number is counted first, and its
/// epoch drawn only when it starts. A log is trimmed in whole blocks
/// (`MAXLEN ~`): it holds at least its limit, which `SINCE` enforces.
///
/// Each `redis.call` costs about a microsecond beyond its command, so a
/// room's keys are not given their lifetime at each broadcast: they live
/// one and a half windows, renewed (with `renewed`, the time) once half a
/// window has passed since the last renewal, so that they always outlive
/// the last event by a window.
const PUBLISH: &str = r#"
local k, a, sent = 1, 6, 0
local now = tonumber(ARGV[4])
local published = {}
while a <= #ARGV do
  local n = tonumber(ARGV[a])
  local offsets, positions, renew = {}, {}, {}
  for i = 1, n do
    local hash, log = KEYS[k + 2 * i - 1], KEYS[k + 2 * i]
    local o = redis.call('HINCRBY', hash, 'offset', 1)
    if o == 1 and redis.call('HSETNX', hash, 'epoch', ARGV[1]) == 1 then
      redis.call('DEL', log)
    end
    local head = redis.call('HMGET', hash, 'epoch', 'renewed')
    renew[i] = not head[2] or now - tonumber(head[2]) > tonumber(ARGV[5])
    offsets[i] = o
    positions[i] = ARGV[a + 3 + 2 * i] .. ':{"epoch":"' .. head[1] .. '","offset":' .. o .. '}'
  end
  local message = '{"e":' .. ARGV[a + 1] .. ',"x":' .. ARGV[a + 2] .. ',"r":' .. ARGV[a + 3]
    .. ',"o":{"fa_offsets":{' .. table.concat(positions, ',') .. '}},"p":' .. ARGV[a + 4] .. '}'
  for i = 1, n do
    local hash, log = KEYS[k + 2 * i - 1], KEYS[k + 2 * i]
    redis.call('XADD', log, 'MAXLEN', '~', ARGV[a + 4 + 2 * i], offsets[i] .. '-0', 'm', message, 't', ARGV[4])
    if renew[i] then
      redis.call('HSET', hash, 'renewed', ARGV[4])
      redis.call('PEXPIRE', hash, ARGV[2])
      redis.call('PEXPIRE', log, ARGV[2])
    end
  end
  sent = sent + 1
  published[sent] = message
  k = k + 1 + 2 * n
  a = a + 5 + 2 * n
end
redis.call(ARGV[3], KEYS[1], '[' .. table.concat(published, ',') .. ']')
return sent
"#;

/// The most broadcasts one call publishes, and about the most bytes of
/// payload; the most calls of one namespace in flight at once.
const MAX_BATCH: usize = 64;
const MAX_BATCH_BYTES: usize = 256 * 1024;
const MAX_IN_FLIGHT: usize = 4;

/// `KEYS` room, log; `ARGV` epoch, offset, the oldest time kept (ms, the
/// reader's clock), the room's limit: the messages kept after the offset,
/// oldest first; nil when some are no longer kept (another epoch, more
/// than the limit, trimmed, or too old).
const SINCE: &str = r"
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return false end
local last = tonumber(redis.call('HGET', KEYS[1], 'offset') or '0')
local from = tonumber(ARGV[2])
if from > last or last - from > tonumber(ARGV[4]) then return false end
if from == last then return {} end
local entries = redis.call('XRANGE', KEYS[2], (from + 1) .. '-0', '+')
if #entries == 0 or entries[1][1] ~= (from + 1) .. '-0' then return false end
if tonumber(entries[1][2][4]) < tonumber(ARGV[3]) then return false end
local out = {}
for i, entry in ipairs(entries) do out[i] = entry[2][2] end
return out
";

/// `KEYS` rooms' hashes, and with `ARGV` an epoch candidate and the window
/// (ms): each room's epoch and offset, `{epoch, offset, ...}`, starting
/// those that have none (and making them live a window at least); without
/// `ARGV`, only reads them (nil epoch: none).
const HEADS: &str = r"
local out = {}
for i, hash in ipairs(KEYS) do
  if ARGV[1] then
    redis.call('HSETNX', hash, 'epoch', ARGV[1])
    redis.call('HSETNX', hash, 'offset', 0)
    if redis.call('PTTL', hash) < tonumber(ARGV[2]) then
      redis.call('PEXPIRE', hash, ARGV[2])
    end
  end
  local head = redis.call('HMGET', hash, 'epoch', 'offset')
  out[2 * i - 1] = head[1]
  out[2 * i] = head[2]
end
return out
";

/// `KEYS` the secret; `ARGV` a candidate: the cluster's resume secret.
const SECRET: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
";

struct Scripts {
    publish: Script,
    since: Script,
    heads: Script,
    secret: Script,
}

fn scripts() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        publish: Script::new(PUBLISH),
        since: Script::new(SINCE),
        heads: Script::new(HEADS),
        secret: Script::new(SECRET),
    })
}

/// One broadcast as the channel and the logs carry it.
#[derive(Deserialize)]
pub(crate) struct Message<'a> {
    #[serde(rename = "e")]
    pub event: &'a str,
    #[serde(rename = "x")]
    pub except: Option<SocketId>,
    #[serde(rename = "r")]
    rooms: Vec<String>,
    #[serde(rename = "o", borrow)]
    pub offsets: &'a RawValue,
    #[serde(rename = "p", borrow)]
    pub payload: &'a RawValue,
}

/// `{"fa_offsets": {room: {"epoch", "offset"}}}`, read.
#[derive(Deserialize)]
struct Offsets<'a> {
    #[serde(borrow)]
    fa_offsets: HashMap<&'a str, At<'a>>,
}

#[derive(Deserialize, Clone, Copy)]
struct At<'a> {
    epoch: &'a str,
    offset: u64,
}

impl<'a> Message<'a> {
    /// The message and its positions, or `None` when it is not one of ours.
    fn read(text: &'a [u8]) -> Option<(Self, HashMap<&'a str, At<'a>>)> {
        let message: Self = serde_json::from_slice(text).ok()?;
        let offsets: Offsets<'a> = serde_json::from_str(message.offsets.get()).ok()?;
        Some((message, offsets.fa_offsets))
    }
}

/// The last event of a room this server delivered.
#[derive(Debug)]
struct Mark {
    epoch: String,
    offset: u64,
    /// When it last changed or was asked for: a mark idle for a window is
    /// forgotten.
    touched: Instant,
}

/// The history in Redis, for a server or an emitter.
pub(crate) struct Shared {
    driver: RedisDriver,
    prefix: String,
    window: Duration,
    /// Messages received and not yet delivered a server holds.
    buffer: usize,
    /// Per namespace, then room, the last event delivered here; changed
    /// under the resume's order lock.
    marks: Mutex<HashMap<String, HashMap<String, Mark>>>,
    /// The cluster's secret, when it was read from Redis: written back
    /// when a Redis that restarted empty is back.
    secret: OnceLock<String>,
    /// Per namespace, the queue of broadcasts to publish.
    batches: Mutex<HashMap<String, mpsc::UnboundedSender<Pending>>>,
    /// Redis' URL (without its password), for errors.
    url: String,
}

/// A broadcast waiting for its call, and who waits for it.
struct Pending {
    kept: Vec<(String, usize)>,
    rooms: Vec<String>,
    except: Option<SocketId>,
    event: String,
    payload: String,
    done: tokio::sync::oneshot::Sender<Result<(), RedisDriverError>>,
}

/// What a namespace's publishing task needs.
#[derive(Clone)]
struct Publisher {
    driver: RedisDriver,
    window_ms: u64,
}

impl Shared {
    pub fn new(driver: RedisDriver, prefix: &str, window: Duration, buffer: usize, url: String) -> Self {
        Self {
            url,
            driver,
            prefix: prefix.to_owned(),
            window,
            buffer,
            marks: Mutex::default(),
            secret: OnceLock::new(),
            batches: Mutex::default(),
        }
    }

    /// A Redis error as a server reports it: with the URL.
    pub fn error(&self, source: RedisDriverError) -> ServerError {
        ServerError::Redis {
            url: self.url.clone(),
            source,
        }
    }

    /// The namespace's channel; its tag puts its keys in one cluster slot.
    fn channel(&self, namespace: &str) -> String {
        format!("{}:history:{{{namespace}}}", self.prefix)
    }

    fn hash(&self, namespace: &str, room: &str) -> String {
        hash_key(&self.channel(namespace), room)
    }

    fn log(&self, namespace: &str, room: &str) -> String {
        log_key(&self.channel(namespace), room)
    }

    fn window_ms(&self) -> u64 {
        self.window.as_millis().max(1) as u64
    }

    fn marks(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, Mark>>> {
        self.marks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last offset of `room` delivered here in `epoch`: `None` when the
    /// room is not followed, 0 when it started again since (another epoch).
    fn delivered(&self, namespace: &str, room: &str, epoch: &str) -> Option<u64> {
        let marks = self.marks();
        let mark = marks.get(namespace)?.get(room)?;
        Some(if mark.epoch == epoch { mark.offset } else { 0 })
    }

    fn set_mark(&self, namespace: &str, room: &str, epoch: &str, offset: u64) {
        let mut marks = self.marks();
        if !marks.contains_key(namespace) {
            marks.insert(namespace.to_owned(), HashMap::new());
        }
        let Some(rooms) = marks.get_mut(namespace) else {
            unreachable!("inserted above")
        };
        match rooms.get_mut(room) {
            Some(mark) => {
                if mark.epoch != epoch {
                    epoch.clone_into(&mut mark.epoch);
                }
                mark.offset = offset;
                mark.touched = Instant::now();
            }
            None => {
                let mark = Mark {
                    epoch: epoch.to_owned(),
                    offset,
                    touched: Instant::now(),
                };
                rooms.insert(room.to_owned(), mark);
            }
        }
    }

    /// The cluster's resume secret: the first server's, kept in Redis.
    pub async fn secret(&self) -> Result<Vec<u8>, RedisDriverError> {
        let candidate = hex::encode(rand::random::<[u8; 32]>());
        let secret = self.keep_secret(&candidate).await?;
        let _ = self.secret.set(secret.clone());
        Ok(secret.into_bytes())
    }

    /// Puts `candidate` in Redis as the secret, unless one is there; the one there.
    async fn keep_secret(&self, candidate: &str) -> Result<String, RedisDriverError> {
        let key = format!("{}:resume-secret", self.prefix);
        self.driver.eval(scripts().secret.key(key).arg(candidate)).await
    }

    /// Writes the secret read at start-up back, if Redis lost it, so that
    /// a server started now signs with the same one.
    async fn keep_secret_again(&self) {
        let Some(secret) = self.secret.get() else {
            return;
        };
        match self.keep_secret(secret).await {
            Ok(kept) if kept != *secret => tracing::warn!(
                "fast-app: redis holds another resume secret than this server's: resumes from this server's clients fail on the others (set `ServerBuilder::resume_secret` on every server)"
            ),
            Ok(_) => {}
            Err(e) => tracing::debug!("fast-app: resume secret not written back: {}", e.cause()),
        }
    }

    /// Numbers, keeps and publishes a broadcast to `rooms`, of which `kept`
    /// keep history. An error: nothing was kept nor sent (or, when Redis
    /// did not answer in time, perhaps it was).
    ///
    /// The broadcasts of a namespace queue for one task, which publishes
    /// what waits, up to [`MAX_BATCH`], in one call, and up to
    /// [`MAX_IN_FLIGHT`] calls at once: alone when nothing else waits, so
    /// that an idle server adds no delay, and many at once under load, when
    /// each call would otherwise cost Redis its own.
    pub async fn publish(
        &self,
        namespace: &str,
        kept: &[(&str, usize)],
        rooms: &[String],
        except: Option<SocketId>,
        event: &str,
        payload: &RawValue,
    ) -> Result<(), RedisDriverError> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        let pending = Pending {
            kept: kept
                .iter()
                .map(|&(room, limit)| (room.to_owned(), limit))
                .collect(),
            rooms: rooms.to_vec(),
            except,
            event: event.to_owned(),
            payload: payload.get().to_owned(),
            done,
        };
        self.queue(namespace).send(pending).map_err(|_| closed())?;
        outcome.await.map_err(|_| closed())?
    }

    /// The queue of `namespace`'s broadcasts, started on first use.
    fn queue(&self, namespace: &str) -> mpsc::UnboundedSender<Pending> {
        let mut batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = batches.get(namespace) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let publisher = Publisher {
            driver: self.driver.clone(),
            window_ms: self.window_ms(),
        };
        tokio::spawn(publisher.run(self.channel(namespace), rx));
        batches.insert(namespace.to_owned(), tx.clone());
        tx
    }

    /// Subscribes to the channel of each of `namespaces`, and delivers it
    /// to this server's connections until the server is closed.
    pub async fn follow<A: Adapter>(
        self: &Arc<Self>,
        resume: &Arc<Resume>,
        io: &SocketIo<A>,
        namespaces: &[&'static str],
    ) -> Result<(), RedisDriverError> {
        for &namespace in namespaces {
            let rx = self
                .driver
                .subscribe_with_renewals(self.channel(namespace), self.buffer)
                .await?;
            let channel = Channel {
                shared: self.clone(),
                resume: resume.clone(),
                io: io.clone(),
                namespace,
                behind: false,
            };
            tokio::spawn(channel.run(rx));
        }
        Ok(())
    }

    /// Each of `rooms`' epoch and offset: with `start`, starting those that
    /// have none; else `None` for those.
    async fn heads(
        &self,
        namespace: &str,
        rooms: &[String],
        start: bool,
    ) -> Result<Vec<Option<(String, u64)>>, RedisDriverError> {
        let mut script = scripts().heads.prepare_invoke();
        for room in rooms {
            script.key(self.hash(namespace, room));
        }
        if start {
            script.arg(epoch()).arg(self.window_ms());
        }
        let heads: Vec<Option<String>> = self.driver.eval(&script).await?;
        Ok(heads
            .chunks_exact(2)
            .map(|head| match head {
                [Some(epoch), offset] => Some((
                    epoch.clone(),
                    offset.as_deref().and_then(|n| n.parse().ok()).unwrap_or(0),
                )),
                _ => None,
            })
            .collect())
    }

    /// Follows `room`, if it is not yet: from its current position in
    /// Redis, what this server's connections in it have seen. Returns the
    /// position. Under the order lock.
    pub async fn track(&self, namespace: &str, room: &str) -> Result<Position, RedisDriverError> {
        let followed = self.marks().get_mut(namespace).and_then(|rooms| {
            let mark = rooms.get_mut(room)?;
            mark.touched = Instant::now();
            Some(position(&mark.epoch, mark.offset))
        });
        if let Some(at) = followed {
            return Ok(at);
        }
        let heads = self.heads(namespace, &[room.to_owned()], true).await?;
        let (epoch, offset) = heads.into_iter().flatten().next().unwrap_or_default();
        self.set_mark(namespace, room, &epoch, offset);
        Ok(position(&epoch, offset))
    }

    /// The messages of `room` after `from` this server delivered (the
    /// others are on their way, and reach the room's new member live),
    /// but those sent except `skip`; `None` when some are no longer kept.
    /// Under the order lock, once the room is followed.
    pub async fn since(
        &self,
        namespace: &str,
        room: &str,
        limit: usize,
        from: Position,
        skip: Option<SocketId>,
    ) -> Result<Option<Vec<String>>, RedisDriverError> {
        let epoch = format!("{:016x}", from.epoch);
        let kept: Option<Vec<String>> = self
            .driver
            .eval(
                scripts()
                    .since
                    .key(self.hash(namespace, room))
                    .key(self.log(namespace, room))
                    .arg(&epoch)
                    .arg(from.offset)
                    .arg(now_ms().saturating_sub(self.window_ms()))
                    .arg(limit),
            )
            .await?;
        let delivered = self.delivered(namespace, room, &epoch).unwrap_or(0);
        Ok(kept.map(|kept| {
            kept.into_iter()
                .filter(|message| {
                    let Some((m, offsets)) = Message::read(message.as_bytes()) else {
                        return false;
                    };
                    offsets.get(room).is_some_and(|at| at.offset <= delivered)
                        && (skip.is_none() || m.except != skip)
                })
                .collect()
        }))
    }

    /// Forgets the rooms nothing happened in for a window, and where this
    /// server has no connection (`here`).
    fn forget_idle(&self, namespace: &str, here: impl Fn(&str) -> bool) {
        let window = self.window;
        if let Some(rooms) = self.marks().get_mut(namespace) {
            rooms.retain(|room, mark| mark.touched.elapsed() < window || here(room));
        }
    }
}

impl Publisher {
    /// Publishes what waits in `rx`, many to a call and a few calls at
    /// once, until every sender is gone. Calls in flight together hold
    /// broadcasts sent concurrently only: a broadcast sent after another
    /// was acknowledged is in a later call.
    async fn run(self, channel: String, mut rx: mpsc::UnboundedReceiver<Pending>) {
        use futures_util::StreamExt;
        let mut in_flight = futures_util::stream::FuturesUnordered::new();
        loop {
            tokio::select! {
                Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
                first = rx.recv(), if in_flight.len() < MAX_IN_FLIGHT => {
                    let Some(first) = first else { break };
                    let mut bytes = first.payload.len();
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                        let Ok(next) = rx.try_recv() else { break };
                        bytes += next.payload.len();
                        batch.push(next);
                    }
                    let (publisher, channel) = (self.clone(), channel.clone());
                    in_flight.push(async move {
                        let outcome = publisher.publish(&channel, &batch).await;
                        for pending in batch {
                            let _ = pending.done.send(outcome.clone());
                        }
                    });
                }
            }
        }
        while in_flight.next().await.is_some() {}
    }

    async fn publish(&self, channel: &str, batch: &[Pending]) -> Result<(), RedisDriverError> {
        let mut script = scripts().publish.prepare_invoke();
        let publish = match self.driver.is_cluster() {
            true => "SPUBLISH",
            false => "PUBLISH",
        };
        script
            .arg(epoch())
            .arg(self.window_ms * 3 / 2)
            .arg(publish)
            .arg(now_ms())
            .arg(self.window_ms / 2);
        for pending in batch {
            script.key(channel);
            for (room, _) in &pending.kept {
                script.key(hash_key(channel, room)).key(log_key(channel, room));
            }
            script
                .arg(pending.kept.len())
                .arg(json(&pending.event))
                .arg(json(&pending.except))
                .arg(json(&pending.rooms))
                .arg(&pending.payload);
            for (room, limit) in &pending.kept {
                script.arg(json(room)).arg(limit);
            }
        }
        self.driver.eval::<u64>(&script).await.map(drop)
    }
}

/// The error of a broadcast whose publishing task is gone.
fn closed() -> RedisDriverError {
    RedisDriverError::Closed
}

/// The hash of `room` (its epoch and offset), beside its namespace's `channel`.
fn hash_key(channel: &str, room: &str) -> String {
    format!("{channel}:room:{room}")
}

/// The log of `room` (its kept events), beside its namespace's `channel`.
fn log_key(channel: &str, room: &str) -> String {
    format!("{channel}:log:{room}")
}

/// A position as the in-process history has it.
fn position(epoch: &str, offset: u64) -> Position {
    Position {
        epoch: u64::from_str_radix(epoch, 16).unwrap_or_default(),
        offset,
    }
}

/// A new epoch candidate, as Redis keeps it: 16 hex digits.
fn epoch() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A script argument as JSON text (of strings, ids and lists of strings,
/// which always serialize).
fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// One namespace's channel, delivered in each room's order on one server.
struct Channel<A: Adapter> {
    shared: Arc<Shared>,
    resume: Arc<Resume>,
    io: SocketIo<A>,
    namespace: &'static str,
    /// Whether some events could not be read back yet.
    behind: bool,
}

impl<A: Adapter> Channel<A> {
    async fn run(mut self, mut rx: mpsc::Receiver<(String, Vec<u8>)>) {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + RETRY, RETRY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut idle = Instant::now();
        loop {
            tokio::select! {
                item = rx.recv() => match item {
                    None => return,
                    Some((_, message)) if message.is_empty() => self.catch_up().await,
                    Some((_, message)) => self.received(&message).await,
                },
                _ = tick.tick() => {
                    if self.io.nsps().is_empty() {
                        return;
                    }
                    if self.behind {
                        self.catch_up().await;
                    }
                    if idle.elapsed() > self.shared.window / 4 {
                        idle = Instant::now();
                        let ns = self.io.of(self.namespace);
                        let here = |room: &str| {
                            ns.clone().is_some_and(|ns| !ns.local().to(room.to_owned()).sockets().is_empty())
                        };
                        self.shared.forget_idle(self.namespace, here);
                    }
                }
            }
        }
    }

    /// Broadcasts from the channel (an array of them, in the order of
    /// their numbers): each delivered after what it shows missed.
    async fn received(&mut self, text: &[u8]) {
        let Ok(batch) = serde_json::from_slice::<Vec<&RawValue>>(text) else {
            static SHAPE: Throttle = Throttle::new();
            if let Some(more) = SHAPE.admit() {
                tracing::warn!(
                    namespace = self.namespace,
                    "fast-app: unreadable broadcasts on the history channel{}",
                    Throttle::more(more)
                );
            }
            return;
        };
        let resume = self.resume.clone();
        let _order = resume.order.lock().await;
        for raw in batch {
            let Some((message, offsets)) = Message::read(raw.get().as_bytes()) else {
                continue;
            };
            if let Err(e) = self.accept(&message, &offsets, 0).await {
                // Read back, with those that follow, once Redis answers.
                return self.failed(&e);
            }
        }
    }

    /// Delivers `message` once its rooms' earlier events are, to the rooms
    /// where it is new (all of them, but for a room this server started to
    /// follow after it was sent).
    async fn accept(
        &self,
        message: &Message<'_>,
        offsets: &HashMap<&str, At<'_>>,
        depth: usize,
    ) -> Result<(), RedisDriverError> {
        for (room, at) in offsets {
            // A room that started again (Redis lost it, or it was idle for a
            // window) is new here from 1; one not followed, from this event.
            let from = match self.shared.delivered(self.namespace, room, at.epoch) {
                Some(delivered) => delivered + 1,
                None => at.offset,
            };
            match from < at.offset {
                true if depth < MAX_DEPTH => {
                    Box::pin(self.fill(room, at.epoch, from, at.offset - 1, depth)).await?;
                }
                true => self.lost(from, at.offset - 1),
                false => {}
            }
        }
        let mut rooms: Vec<String> = Vec::with_capacity(message.rooms.len());
        let mut seen = false;
        for room in &message.rooms {
            match offsets.get(room.as_str()) {
                Some(at) => {
                    let new = self
                        .shared
                        .delivered(self.namespace, room, at.epoch)
                        .is_none_or(|delivered| delivered < at.offset);
                    if new {
                        self.shared.set_mark(self.namespace, room, at.epoch, at.offset);
                        rooms.push(room.clone());
                    } else {
                        seen = true;
                    }
                }
                None => rooms.push(room.clone()),
            }
        }
        // Sent again, or read back already: a room without history of
        // it got it with the others.
        if seen && rooms.iter().all(|room| !offsets.contains_key(room.as_str())) {
            return Ok(());
        }
        self.deliver(message, &rooms).await;
        Ok(())
    }

    /// Reads events `from..=to` of `room` (epoch `epoch`) back and delivers
    /// them. Those no longer kept are lost here, loudly.
    async fn fill(
        &self,
        room: &str,
        epoch: &str,
        from: u64,
        to: u64,
        depth: usize,
    ) -> Result<(), RedisDriverError> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(self.shared.log(self.namespace, room))
            .arg(format!("{from}-0"))
            .arg(format!("{to}-0"));
        let entries: Vec<(String, HashMap<String, String>)> = self.shared.driver.query(&cmd).await?;
        let mut next = from;
        for (_, fields) in &entries {
            let Some((message, offsets)) = fields.get("m").and_then(|m| Message::read(m.as_bytes())) else {
                continue;
            };
            let Some(at) = offsets.get(room).copied() else {
                continue;
            };
            if at.epoch != epoch || at.offset < next {
                continue;
            }
            if at.offset > next {
                self.lost(next, at.offset - 1);
                self.shared.set_mark(self.namespace, room, epoch, at.offset - 1);
            }
            next = at.offset + 1;
            crate::metrics::history_read_back(self.namespace, 1);
            Box::pin(self.accept(&message, &offsets, depth + 1)).await?;
        }
        if next <= to {
            self.lost(next, to);
            self.shared.set_mark(self.namespace, room, epoch, to);
        }
        Ok(())
    }

    /// Reads back what followed the last event delivered in every room
    /// this server follows.
    async fn catch_up(&mut self) {
        self.shared.keep_secret_again().await;
        let resume = self.resume.clone();
        let _order = resume.order.lock().await;
        let rooms: Vec<String> = self
            .shared
            .marks()
            .get(self.namespace)
            .map(|rooms| rooms.keys().cloned().collect())
            .unwrap_or_default();
        let result = async {
            for chunk in rooms.chunks(512) {
                let heads = self.shared.heads(self.namespace, chunk, false).await?;
                for (room, head) in chunk.iter().zip(heads) {
                    let Some((epoch, offset)) = head else { continue };
                    let from = self
                        .shared
                        .delivered(self.namespace, room, &epoch)
                        .map_or(1, |delivered| delivered + 1);
                    if from <= offset {
                        self.fill(room, &epoch, from, offset, 0).await?;
                    }
                }
            }
            Ok::<(), RedisDriverError>(())
        }
        .await;
        match result {
            Ok(()) => self.behind = false,
            Err(e) => self.failed(&e),
        }
    }

    /// Emits a broadcast to this server's connections in `rooms`.
    async fn deliver(&self, message: &Message<'_>, rooms: &[String]) {
        let Some(ns) = self.io.of(self.namespace) else {
            return;
        };
        let kept = rooms
            .iter()
            .map(String::as_str)
            .filter(|room| self.resume.keeps(self.namespace, room));
        let outcome = emit_both(
            ns.local(),
            rooms,
            kept,
            self.resume.has_resumable(self.namespace),
            message.except,
            message.event,
            message.payload,
            message.offsets,
        )
        .await;
        // Failures are logged there; nobody is waiting for this outcome.
        let _ = BroadcastError::from_outcome(self.namespace, message.event, outcome);
    }

    fn failed(&mut self, e: &RedisDriverError) {
        self.behind = true;
        static FAILED: Throttle = Throttle::new();
        if let Some(more) = FAILED.admit() {
            tracing::warn!(
                namespace = self.namespace,
                "fast-app: could not read missed broadcasts back from redis, retrying: {}{}",
                e.cause(),
                Throttle::more(more)
            );
        }
    }

    fn lost(&self, from: u64, to: u64) {
        let n = to + 1 - from;
        crate::metrics::history_lost(self.namespace, n);
        static LOST: Throttle = Throttle::new();
        if let Some(more) = LOST.admit() {
            tracing::error!(
                namespace = self.namespace,
                "fast-app: {n} broadcast(s) missed by this server were no longer kept in redis{}",
                Throttle::more(more)
            );
        }
    }
}
