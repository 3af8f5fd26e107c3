//! Per-room history in memory: the last events sent to each room of a room
//! type that keeps history, numbered, so that a client that comes back
//! gets exactly what it missed.
//!
//! Each room's events are numbered from 1 within an *epoch*, a random value
//! drawn when the room's history starts (the first join or broadcast since
//! it was empty for a whole window). A position is `(epoch, offset)`: a
//! client at `(e, n)` has seen every event up to `n` of epoch `e`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::socket_id::SocketId;

/// One event kept: what to send again, and to whom not.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    /// Its order among every event this server kept.
    pub seq: u64,
    pub offset: u64,
    pub event: &'static str,
    pub payload: Arc<RawValue>,
    /// Its positions in every room it was sent to: `{"fa_offsets": ...}`.
    pub offsets: Arc<Value>,
    /// The connection the broadcast left out, if any.
    pub except: Option<SocketId>,
    at: Instant,
}

/// A position in a room's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub epoch: u64,
    pub offset: u64,
}

struct Ring {
    epoch: u64,
    last: u64,
    events: VecDeque<Kept>,
    /// When the room last had a join or an event: a room idle for a window
    /// with nothing kept is forgotten.
    touched: Instant,
}

/// The history of every room that keeps one, on this server.
pub(crate) struct History {
    window: Duration,
    rings: Mutex<Rings>,
}

struct Rings {
    seq: u64,
    /// By namespace, then room: looked up by `&str`, without allocating.
    rooms: HashMap<String, HashMap<String, Ring>>,
}

impl History {
    /// Keeps events for `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            rings: Mutex::new(Rings {
                seq: 0,
                rooms: HashMap::new(),
            }),
        }
    }

    fn rings(&self) -> std::sync::MutexGuard<'_, Rings> {
        self.rings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ring<'a>(rings: &'a mut Rings, namespace: &str, room: &str) -> &'a mut Ring {
        if !rings.rooms.contains_key(namespace) {
            rings.rooms.insert(namespace.to_owned(), HashMap::new());
        }
        let Some(rooms) = rings.rooms.get_mut(namespace) else {
            unreachable!("inserted above")
        };
        if !rooms.contains_key(room) {
            let ring = Ring {
                epoch: rand::random(),
                last: 0,
                events: VecDeque::new(),
                touched: Instant::now(),
            };
            rooms.insert(room.to_owned(), ring);
        }
        let Some(ring) = rooms.get_mut(room) else {
            unreachable!("inserted above")
        };
        ring
    }

    /// Keeps an event sent to `rooms` (each with the most it keeps), and
    /// returns its positions there, as the `fa_offsets` argument.
    pub fn record(
        &self,
        namespace: &str,
        rooms: &[(&str, usize)],
        event: &'static str,
        payload: Arc<RawValue>,
        except: Option<SocketId>,
    ) -> Arc<Value> {
        let now = Instant::now();
        let mut rings = self.rings();
        rings.seq += 1;
        let seq = rings.seq;
        let mut positions = Map::new();
        for &(room, _) in rooms {
            let ring = Self::ring(&mut rings, namespace, room);
            ring.last += 1;
            ring.touched = now;
            positions.insert(room.to_owned(), position_json(ring.epoch, ring.last));
        }
        let offsets = Arc::new(json!({ OFFSETS: positions }));
        for &(room, limit) in rooms {
            let ring = Self::ring(&mut rings, namespace, room);
            ring.events.push_back(Kept {
                seq,
                offset: ring.last,
                event,
                payload: payload.clone(),
                offsets: offsets.clone(),
                except,
                at: now,
            });
            while ring.events.len() > limit {
                ring.events.pop_front();
            }
        }
        offsets
    }

    /// The room's current position: a joiner has seen nothing before it.
    pub fn position(&self, namespace: &str, room: &str) -> Position {
        let mut rings = self.rings();
        let ring = Self::ring(&mut rings, namespace, room);
        ring.touched = Instant::now();
        Position {
            epoch: ring.epoch,
            offset: ring.last,
        }
    }

    /// Every event of `room` after `from`, but those sent `except` the
    /// connection `skip`; `None` when some of them are no longer kept (another
    /// epoch, more than the room keeps, or older than the window).
    pub fn since(
        &self,
        namespace: &str,
        room: &str,
        from: Position,
        skip: Option<SocketId>,
    ) -> Option<Vec<Kept>> {
        let mut rings = self.rings();
        let ring = rings.rooms.get_mut(namespace)?.get_mut(room)?;
        prune(ring, self.window);
        if ring.epoch != from.epoch || from.offset > ring.last {
            return None;
        }
        let oldest = ring.events.front().map_or(ring.last + 1, |kept| kept.offset);
        if from.offset + 1 < oldest {
            return None;
        }
        Some(
            ring.events
                .iter()
                .filter(|kept| kept.offset > from.offset && (skip.is_none() || kept.except != skip))
                .cloned()
                .collect(),
        )
    }

    /// Drops what is older than the window, and the rooms left with nothing
    /// that nobody touched for a window.
    pub fn sweep(&self) {
        let window = self.window;
        self.rings().rooms.retain(|_, rooms| {
            rooms.retain(|_, ring| {
                prune(ring, window);
                !ring.events.is_empty() || ring.touched.elapsed() < window
            });
            !rooms.is_empty()
        });
    }
}

/// The argument that carries an event's positions to resumable clients.
pub(crate) const OFFSETS: &str = "fa_offsets";

/// A position as clients see it: `{"epoch": "<16 hex digits>", "offset": n}`.
pub(crate) fn position_json(epoch: u64, offset: u64) -> Value {
    json!({ "epoch": format!("{epoch:016x}"), "offset": offset })
}

fn prune(ring: &mut Ring, window: Duration) {
    while ring.events.front().is_some_and(|kept| kept.at.elapsed() > window) {
        ring.events.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(n: u64) -> Arc<RawValue> {
        RawValue::from_string(n.to_string()).unwrap().into()
    }

    fn offset(offsets: &Value, room: &str) -> u64 {
        offsets[OFFSETS][room]["offset"].as_u64().unwrap()
    }

    /// The offsets kept in `room` after `offset` of `epoch`, if recovered.
    fn since(
        history: &History,
        room: &str,
        epoch: u64,
        offset: u64,
        skip: Option<SocketId>,
    ) -> Option<Vec<u64>> {
        let kept = history.since("/", room, Position { epoch, offset }, skip)?;
        Some(kept.iter().map(|kept| kept.offset).collect())
    }

    #[test]
    fn a_position_gets_what_followed_it_once_and_in_order() {
        let history = History::new(Duration::from_secs(60));
        let joined = history.position("/", "chat|1");
        assert_eq!(joined.offset, 0);
        for n in 1..=5 {
            let at = history.record("/", &[("chat|1", 100)], "message_sent", payload(n), None);
            assert_eq!(offset(&at, "chat|1"), n);
            assert_eq!(at[OFFSETS]["chat|1"]["epoch"], format!("{:016x}", joined.epoch));
        }
        assert_eq!(
            since(&history, "chat|1", joined.epoch, 2, None),
            Some(vec![3, 4, 5])
        );
        let missed = history
            .since(
                "/",
                "chat|1",
                Position {
                    epoch: joined.epoch,
                    offset: 2,
                },
                None,
            )
            .unwrap();
        assert_eq!(missed[0].payload.get(), "3");
        assert_eq!(since(&history, "chat|1", joined.epoch, 5, None), Some(vec![]));
    }

    #[test]
    fn what_is_no_longer_kept_is_not_recovered() {
        let history = History::new(Duration::from_secs(60));
        let epoch = history.position("/", "chat|1").epoch;
        for n in 1..=5 {
            history.record("/", &[("chat|1", 3)], "message_sent", payload(n), None);
        }
        // Kept: 3, 4, 5. From 2 on is whole; from 1 on misses 2.
        assert!(since(&history, "chat|1", epoch, 2, None).is_some());
        assert!(since(&history, "chat|1", epoch, 1, None).is_none());
        // Another epoch, a position from the future, an unknown room.
        assert!(since(&history, "chat|1", epoch ^ 1, 4, None).is_none());
        assert!(since(&history, "chat|1", epoch, 9, None).is_none());
        assert!(since(&history, "chat|2", epoch, 0, None).is_none());
    }

    #[test]
    fn events_older_than_the_window_are_not_recovered_and_an_idle_room_is_forgotten() {
        let history = History::new(Duration::from_millis(1));
        let epoch = history.position("/", "chat|1").epoch;
        history.record("/", &[("chat|1", 10)], "message_sent", payload(1), None);
        std::thread::sleep(Duration::from_millis(5));
        assert!(since(&history, "chat|1", epoch, 0, None).is_none());
        history.sweep();
        assert!(history.rings().rooms.is_empty());
    }

    #[test]
    fn an_event_sent_except_a_connection_is_not_replayed_to_it() {
        let history = History::new(Duration::from_secs(60));
        let epoch = history.position("/", "chat|1").epoch;
        let me = SocketId::random();
        history.record("/", &[("chat|1", 10)], "message_sent", payload(1), Some(me));
        history.record("/", &[("chat|1", 10)], "message_sent", payload(2), None);
        assert_eq!(since(&history, "chat|1", epoch, 0, Some(me)), Some(vec![2]));
    }

    #[test]
    fn an_event_to_two_rooms_has_a_position_in_each_and_one_order() {
        let history = History::new(Duration::from_secs(60));
        history.position("/", "chat|1");
        let b = history.position("/", "chat|2");
        history.record("/", &[("chat|2", 10)], "e", payload(0), None);
        let both = history.record("/", &[("chat|1", 10), ("chat|2", 10)], "e", payload(0), None);
        assert_eq!(offset(&both, "chat|1"), 1);
        assert_eq!(offset(&both, "chat|2"), 2);
        let kept = history.since("/", "chat|2", b, None).unwrap();
        assert!(kept[0].seq < kept[1].seq);
        assert!(Arc::ptr_eq(&kept[1].offsets, &both));
    }
}
