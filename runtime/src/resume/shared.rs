//! History in Redis, shared by every server and emitter of a cluster: a
//! broadcast to a room that keeps history reaches every server's
//! connections exactly once, across a Redis blip or a re-subscribe, and a
//! client resumes on any server.
//!
//! Per namespace `ns`, all in one cluster slot (the `{...}` tag):
//!
//! - `<prefix>:history:{ns}`, a hash: the namespace's feed, its `epoch`
//!   and `seq`, the number of its last broadcast;
//! - `<prefix>:history:{ns}:feed`, a stream: its last broadcasts
//!   ([`FEED_BACKLOG`]), by `seq`; also the pub/sub channel of the servers;
//! - `<prefix>:history:{ns}:room:<room>`, a hash: the room's `epoch` and
//!   `offset`, as in the in-process history;
//! - `<prefix>:history:{ns}:log:<room>`, a stream: the room's kept events,
//!   by offset.
//!
//! A broadcast is one script: numbered in the feed and in each of its rooms
//! that keep history, added to the feed and to their logs, and published,
//! at once, or not at all, and then its sender is told. Every server, the
//! sender's too, delivers the feed to its own connections in `seq` order. A
//! number past the next one means that some were missed (a reconnect, a
//! full buffer): they are read back from the feed first. A renewed
//! subscription reads what followed the last one delivered.
//!
//! Every key lives for the resume window after its last write; a feed or a
//! room that starts again draws a new epoch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use redis::Script;
use serde::Deserialize;
use serde_json::value::RawValue;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::sync::mpsc;

use super::history::Position;
use super::{PLAIN, RESUMABLE, Resume};
use crate::error::{BroadcastError, RedisDriverError, Throttle};
use crate::redis::RedisDriver;
use crate::socket_id::SocketId;

/// The broadcasts a namespace's feed keeps (about: trimmed in whole
/// blocks), for servers that missed some. A server misses them while its
/// subscription is down, a second or two after a Redis blip.
pub(crate) const FEED_BACKLOG: u64 = 10_000;

/// How often a server that could not read back what it missed tries again.
const RETRY: Duration = Duration::from_millis(250);

/// The newest entries of a room's log a join's position is looked for in.
const NEWEST: usize = 16;

/// `KEYS` feed, feed stream, channel, then each room's hash and log;
/// `ARGV` epoch candidate, window (ms), feed backlog, event, except, rooms,
/// payload (each as JSON), `PUBLISH` or `SPUBLISH`, then each room's name
/// (JSON) and limit. Returns the broadcast's `seq`. The message is built
/// here, where its numbers are given: `{"f": feed epoch, "s": seq, "e",
/// "x", "r", "o": {"fa_offsets": ...}, "p"}`. A room log entry adds its
/// time (`t`, Redis' clock) and `s`: `<feed epoch>:<seq>`.
const PUBLISH: &str = r#"
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
local function number(hash, stream, field)
  if redis.call('HSETNX', hash, 'epoch', ARGV[1]) == 1 then
    redis.call('DEL', stream)
  end
  local n = redis.call('HINCRBY', hash, field, 1)
  redis.call('PEXPIRE', hash, ARGV[2])
  return redis.call('HGET', hash, 'epoch'), n
end
local fepoch, seq = number(KEYS[1], KEYS[2], 'seq')
local rooms = (#KEYS - 3) / 2
local offsets, positions = {}, {}
for i = 1, rooms do
  local epoch, offset = number(KEYS[2 + 2 * i], KEYS[3 + 2 * i], 'offset')
  offsets[i] = offset
  positions[i] = ARGV[7 + 2 * i] .. ':{"epoch":"' .. epoch .. '","offset":' .. offset .. '}'
end
local message = '{"f":"' .. fepoch .. '","s":' .. seq .. ',"e":' .. ARGV[4] .. ',"x":' .. ARGV[5]
  .. ',"r":' .. ARGV[6] .. ',"o":{"fa_offsets":{' .. table.concat(positions, ',') .. '}},"p":' .. ARGV[7] .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], seq .. '-0', 'm', message)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
for i = 1, rooms do
  redis.call('XADD', KEYS[3 + 2 * i], 'MAXLEN', ARGV[8 + 2 * i], offsets[i] .. '-0',
    'm', message, 't', ms, 's', fepoch .. ':' .. seq)
  redis.call('PEXPIRE', KEYS[3 + 2 * i], ARGV[2])
end
redis.call(ARGV[8], KEYS[3], message)
return seq
"#;

/// `KEYS` room, log; `ARGV` epoch, offset, window (ms): the messages kept
/// after the offset, oldest first; nil when some are no longer kept
/// (another epoch, trimmed, or older than the window).
const SINCE: &str = r"
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return false end
local last = tonumber(redis.call('HGET', KEYS[1], 'offset') or '0')
local from = tonumber(ARGV[2])
if from > last then return false end
if from == last then return {} end
local entries = redis.call('XRANGE', KEYS[2], (from + 1) .. '-0', '+')
if #entries == 0 or entries[1][1] ~= (from + 1) .. '-0' then return false end
local now = redis.call('TIME')
local oldest = now[1] * 1000 + math.floor(now[2] / 1000) - tonumber(ARGV[3])
if tonumber(entries[1][2][4]) < oldest then return false end
local out = {}
for i, entry in ipairs(entries) do out[i] = entry[2][2] end
return out
";

/// `KEYS` room, log; `ARGV` epoch candidate, window (ms), count: the
/// room's epoch and offset (starting them if need be), and its newest log
/// entries, newest first, as `id, <feed epoch>:<seq>` pairs.
const POSITION: &str = r"
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then redis.call('DEL', KEYS[2]) end
redis.call('HSETNX', KEYS[1], 'offset', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local newest = {}
for _, entry in ipairs(redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[3])) do
  newest[#newest + 1] = entry[1]
  newest[#newest + 1] = entry[2][6]
end
return {redis.call('HGET', KEYS[1], 'epoch'), tonumber(redis.call('HGET', KEYS[1], 'offset')), newest}
";

/// `KEYS` the secret; `ARGV` a candidate: the cluster's resume secret.
const SECRET: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
";

struct Scripts {
    publish: Script,
    since: Script,
    position: Script,
    secret: Script,
}

fn scripts() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        publish: Script::new(PUBLISH),
        since: Script::new(SINCE),
        position: Script::new(POSITION),
        secret: Script::new(SECRET),
    })
}

/// One broadcast as the feed carries it.
#[derive(Deserialize)]
pub(crate) struct Message<'a> {
    /// The feed's epoch, and the broadcast's number in it.
    #[serde(rename = "f")]
    feed: &'a str,
    #[serde(rename = "s")]
    pub seq: u64,
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

/// The last broadcast of a feed a server delivered.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Mark {
    epoch: String,
    seq: u64,
}

impl Mark {
    /// Whether the broadcast `seq` of feed `epoch` was delivered here (one
    /// of a feed's earlier epochs never is: its history is gone with it).
    fn covers(&self, epoch: &str, seq: u64) -> bool {
        self.epoch == epoch && seq <= self.seq
    }
}

/// The history in Redis, for a server or an emitter.
pub(crate) struct Shared {
    driver: RedisDriver,
    prefix: String,
    window: Duration,
    /// Feed messages received and not yet delivered a server holds.
    buffer: usize,
    /// Per namespace, the last broadcast delivered here; changed under the
    /// resume's order lock.
    marks: Mutex<HashMap<String, Mark>>,
}

impl Shared {
    pub fn new(driver: RedisDriver, prefix: &str, window: Duration, buffer: usize) -> Self {
        Self {
            driver,
            prefix: prefix.to_owned(),
            window,
            buffer,
            marks: Mutex::default(),
        }
    }

    fn tag(&self, namespace: &str) -> String {
        format!("{}:history:{{{namespace}}}", self.prefix)
    }

    fn feed(&self, namespace: &str) -> String {
        format!("{}:feed", self.tag(namespace))
    }

    /// A room's hash and log.
    fn room(&self, namespace: &str, room: &str) -> Vec<String> {
        let tag = self.tag(namespace);
        vec![format!("{tag}:room:{room}"), format!("{tag}:log:{room}")]
    }

    fn window_ms(&self) -> u64 {
        self.window.as_millis().max(1) as u64
    }

    /// The cluster's resume secret: the first server's, kept in Redis.
    pub async fn secret(&self) -> Result<Vec<u8>, RedisDriverError> {
        let candidate = hex::encode(rand::random::<[u8; 32]>());
        let key = format!("{}:resume-secret", self.prefix);
        let secret: String = self.driver.eval(scripts().secret.key(key).arg(candidate)).await?;
        Ok(secret.into_bytes())
    }

    /// Numbers, keeps and publishes a broadcast to `rooms`, of which `kept`
    /// keep history. An error: nothing was kept nor sent.
    pub async fn publish(
        &self,
        namespace: &str,
        kept: &[(&str, usize)],
        rooms: &[String],
        except: Option<SocketId>,
        event: &str,
        payload: &RawValue,
    ) -> Result<(), RedisDriverError> {
        let mut script = scripts().publish.prepare_invoke();
        let tag = self.tag(namespace);
        script
            .key(&tag)
            .key(self.feed(namespace))
            .key(self.feed(namespace));
        for (room, _) in kept {
            script.key(self.room(namespace, room));
        }
        let publish = match self.driver.is_cluster() {
            true => "SPUBLISH",
            false => "PUBLISH",
        };
        script
            .arg(epoch())
            .arg(self.window_ms())
            .arg(FEED_BACKLOG)
            .arg(json(event))
            .arg(json(&except))
            .arg(json(rooms))
            .arg(payload.get())
            .arg(publish);
        for (room, limit) in kept {
            script.arg(json(room)).arg(limit);
        }
        self.driver.eval::<u64>(&script).await.map(drop)
    }

    /// Subscribes to the feed of each of `namespaces`, and delivers it to
    /// this server's connections until the server is closed.
    pub async fn follow<A: Adapter>(
        self: &Arc<Self>,
        resume: &Arc<Resume>,
        io: &SocketIo<A>,
        namespaces: &[&'static str],
    ) -> Result<(), RedisDriverError> {
        for &namespace in namespaces {
            let rx = self
                .driver
                .subscribe_with_renewals(self.feed(namespace), self.buffer)
                .await?;
            // What was published before is not this server's to deliver.
            if let Some(head) = self.head(namespace).await? {
                self.set_mark(namespace, head);
            }
            let feed = Feed {
                shared: self.clone(),
                resume: resume.clone(),
                io: io.clone(),
                namespace,
                behind: false,
            };
            tokio::spawn(feed.run(rx));
        }
        Ok(())
    }

    /// The feed's epoch and last number, if it has started.
    async fn head(&self, namespace: &str) -> Result<Option<Mark>, RedisDriverError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.tag(namespace)).arg("epoch").arg("seq");
        let (epoch, seq): (Option<String>, Option<u64>) = self.driver.query(&cmd).await?;
        Ok(epoch.map(|epoch| Mark {
            epoch,
            seq: seq.unwrap_or(0),
        }))
    }

    fn mark(&self, namespace: &str) -> Option<Mark> {
        self.marks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(namespace)
            .cloned()
    }

    fn set_mark(&self, namespace: &str, mark: Mark) {
        self.marks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(namespace.to_owned(), mark);
    }

    /// The messages of `room` after `from` this server delivered (the
    /// others are on their way, and reach the room's new member live),
    /// except those sent except `skip`; `None` when some are no longer kept.
    /// Under the order lock.
    pub async fn since(
        &self,
        namespace: &str,
        room: &str,
        from: Position,
        skip: Option<SocketId>,
    ) -> Result<Option<Vec<String>>, RedisDriverError> {
        let kept: Option<Vec<String>> = self
            .driver
            .eval(
                scripts()
                    .since
                    .key(self.room(namespace, room))
                    .arg(format!("{:016x}", from.epoch))
                    .arg(from.offset)
                    .arg(self.window_ms()),
            )
            .await?;
        let mark = self.mark(namespace);
        Ok(kept.map(|kept| {
            kept.into_iter()
                .filter(|message| {
                    let Ok(m) = serde_json::from_str::<Message>(message) else {
                        return false;
                    };
                    mark.as_ref().is_some_and(|mark| mark.covers(m.feed, m.seq))
                        && (skip.is_none() || m.except != skip)
                })
                .collect()
        }))
    }

    /// The position of a joiner of `room`: the room's last event this
    /// server delivered (the next ones reach the joiner live). Under the
    /// order lock.
    pub async fn position(&self, namespace: &str, room: &str) -> Result<Position, RedisDriverError> {
        let (epoch, offset, newest): (String, u64, Vec<String>) = self
            .driver
            .eval(
                scripts()
                    .position
                    .key(self.room(namespace, room))
                    .arg(epoch())
                    .arg(self.window_ms())
                    .arg(NEWEST),
            )
            .await?;
        let epoch = u64::from_str_radix(&epoch, 16).unwrap_or_default();
        let mark = self.mark(namespace);
        let mut offset = offset;
        for pair in newest.chunks_exact(2) {
            let id: u64 = pair[0]
                .split('-')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_default();
            let delivered = pair[1]
                .rsplit_once(':')
                .and_then(|(feed, seq)| Some((feed, seq.parse().ok()?)))
                .is_some_and(|(feed, seq)| mark.as_ref().is_some_and(|mark| mark.covers(feed, seq)));
            if delivered {
                offset = id;
                break;
            }
            // Not delivered here yet: the position is before it.
            offset = id.saturating_sub(1);
        }
        Ok(Position { epoch, offset })
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

/// One namespace's feed, delivered in order on one server.
struct Feed<A: Adapter> {
    shared: Arc<Shared>,
    resume: Arc<Resume>,
    io: SocketIo<A>,
    namespace: &'static str,
    /// Whether some broadcasts could not be read back yet.
    behind: bool,
}

impl<A: Adapter> Feed<A> {
    async fn run(mut self, mut rx: mpsc::Receiver<(String, Vec<u8>)>) {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + RETRY, RETRY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                }
            }
        }
    }

    /// A broadcast from the channel: delivered after any it skipped.
    async fn received(&mut self, message: &[u8]) {
        let Ok(message) = serde_json::from_slice::<Message>(message) else {
            static SHAPE: Throttle = Throttle::new();
            if let Some(more) = SHAPE.admit() {
                tracing::warn!(
                    namespace = self.namespace,
                    "fast-app: unreadable broadcast on the history feed{}",
                    Throttle::more(more)
                );
            }
            return;
        };
        let resume = self.resume.clone();
        let _order = resume.order.lock().await;
        let from = match self.shared.mark(self.namespace) {
            Some(mark) if mark.epoch == message.feed => {
                if message.seq <= mark.seq {
                    return;
                }
                mark.seq + 1
            }
            // A feed started since (Redis lost it, or it was idle for a
            // window): all of it is new here.
            _ => 1,
        };
        if from < message.seq && self.fill(message.feed, from, message.seq - 1).await.is_err() {
            // Read back, with this one, once Redis answers.
            return;
        }
        self.deliver(&message).await;
    }

    /// Delivers what followed the last broadcast delivered.
    async fn catch_up(&mut self) {
        let resume = self.resume.clone();
        let _order = resume.order.lock().await;
        let head = match self.shared.head(self.namespace).await {
            Ok(head) => head,
            Err(e) => return self.failed(&e),
        };
        let Some(head) = head else {
            self.behind = false;
            return;
        };
        let from = match self.shared.mark(self.namespace) {
            Some(mark) if mark.epoch == head.epoch => mark.seq + 1,
            _ => 1,
        };
        if from <= head.seq {
            let _ = self.fill(&head.epoch, from, head.seq).await;
        } else {
            self.behind = false;
        }
    }

    /// Reads broadcasts `from..=to` of feed `epoch` back and delivers them.
    /// Those no longer in the feed are lost here, loudly.
    async fn fill(&mut self, epoch: &str, from: u64, to: u64) -> Result<(), RedisDriverError> {
        let mut next = from;
        while next <= to {
            let mut cmd = redis::cmd("XRANGE");
            cmd.arg(self.shared.feed(self.namespace))
                .arg(format!("{next}-0"))
                .arg(format!("{to}-0"))
                .arg("COUNT")
                .arg(512);
            let entries: Vec<(String, HashMap<String, String>)> = match self.shared.driver.query(&cmd).await {
                Ok(entries) => entries,
                Err(e) => {
                    self.failed(&e);
                    return Err(e);
                }
            };
            if entries.is_empty() {
                self.lost(next, to);
                break;
            }
            for (_, fields) in &entries {
                let Some(message) = fields
                    .get("m")
                    .and_then(|m| serde_json::from_str::<Message>(m).ok())
                else {
                    continue;
                };
                if message.feed != epoch || message.seq < next {
                    continue;
                }
                if message.seq > next {
                    self.lost(next, message.seq - 1);
                }
                next = message.seq + 1;
                crate::metrics::history_read_back(self.namespace, 1);
                self.deliver(&message).await;
            }
        }
        self.behind = false;
        Ok(())
    }

    /// Emits a broadcast to this server's connections, and marks it delivered.
    async fn deliver(&self, message: &Message<'_>) {
        self.shared.set_mark(
            self.namespace,
            Mark {
                epoch: message.feed.to_owned(),
                seq: message.seq,
            },
        );
        let Some(ns) = self.io.of(self.namespace) else {
            return;
        };
        let leave_out = |kind: &str| {
            let mut out = vec![kind.to_owned()];
            out.extend(message.except.map(|id| id.room()));
            out
        };
        let plain = ns
            .clone()
            .local()
            .to(message.rooms.clone())
            .except(leave_out(RESUMABLE))
            .emit(message.event, message.payload)
            .await;
        let resumable = ns
            .local()
            .to(message.rooms.clone())
            .except(leave_out(PLAIN))
            .emit(message.event, &(message.payload, message.offsets))
            .await;
        // Failures are logged there; nobody is waiting for this outcome.
        let _ = BroadcastError::from_outcome(self.namespace, message.event, plain.and(resumable));
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
                "fast-app: {n} broadcast(s) missed by this server were no longer in redis' feed{}",
                Throttle::more(more)
            );
        }
    }
}
