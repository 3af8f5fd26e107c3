//! Publishes that reached fewer subscribers than their channel is known to
//! have: Redis pub/sub is at-most-once, and a server re-subscribing after a
//! blip (a Redis restart, `maxclients`, a killed connection) misses what was
//! published meanwhile. PUBLISH says how many subscribers received each
//! message; this module turns a shortfall into a count and a warning.
//!
//! # The rule for "known to be subscribed"
//!
//! A channel's known count is the largest count PUBLISH has returned on it.
//! A publish that reaches fewer opens a *gap*, and the publishes of the gap
//! are held, not yet counted, because the moment of the publish cannot tell
//! a server re-subscribing from a server that left for good: both are
//! missing from PUBLISH's count, and from PUBSUB NUMSUB's as well (asked
//! right after, it sees the same missing subscription, so it would
//! classify the very loss we report as a departure). Time tells them apart:
//!
//! - when a publish reaches the known count again within [`GRACE`], the
//!   missing subscribers were away and came back: every publish of the gap
//!   missed them, and is counted (and warned about) then;
//! - when the gap outlasts [`GRACE`], which is far longer than our driver
//!   takes to reconnect (it retries at least every second), they left: the
//!   known count becomes the most the gap reached, nothing is counted.
//!
//! The normal case costs one map look-up and no Redis round trip. A server
//! that leaves and is replaced within [`GRACE`] (a rolling deploy) reads as a
//! subscriber that came back: its clients, reconnecting meanwhile, did miss
//! those broadcasts.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::Throttle;
use crate::metrics::RedisMetrics;

/// How long a channel may reach fewer subscribers before the missing ones
/// are taken to have left.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// What the publishes of one driver have reached, per channel.
#[derive(Debug)]
pub(super) struct Receivers {
    channels: Mutex<HashMap<String, Seen>>,
    shortfalls: Arc<AtomicU64>,
    metrics: Arc<RedisMetrics>,
}

#[derive(Debug)]
struct Seen {
    /// The most subscribers a publish on the channel has reached.
    known: u64,
    gap: Option<Gap>,
}

/// Publishes that reached fewer than `Seen::known`, not yet counted.
#[derive(Debug)]
struct Gap {
    since: Instant,
    publishes: u64,
    least: u64,
    most: u64,
}

impl Receivers {
    /// Counting into the shortfall counter of the channel prefix `prefix`,
    /// and into its driver's `metrics`.
    pub(super) fn new(prefix: &str, metrics: Arc<RedisMetrics>) -> Self {
        Self {
            channels: Mutex::default(),
            shortfalls: counter(prefix),
            metrics,
        }
    }

    /// Shortfalls counted so far, by every driver on this prefix in this process.
    pub(super) fn shortfalls(&self) -> u64 {
        self.shortfalls.load(Ordering::Relaxed)
    }

    /// A publish on `channel` reached `reached` subscribers.
    pub(super) fn record(&self, channel: &str, reached: u64) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(seen) = channels.get_mut(channel) else {
            if reached > 0 {
                channels.insert(
                    channel.to_owned(),
                    Seen {
                        known: reached,
                        gap: None,
                    },
                );
            }
            return;
        };
        if reached >= seen.known {
            let expected = std::mem::replace(&mut seen.known, reached);
            if let Some(gap) = seen.gap.take() {
                drop(channels);
                self.missed(channel, gap, expected);
            }
            return;
        }
        match &mut seen.gap {
            None => {
                seen.gap = Some(Gap {
                    since: Instant::now(),
                    publishes: 1,
                    least: reached,
                    most: reached,
                })
            }
            Some(gap) if gap.since.elapsed() < GRACE => {
                gap.publishes += 1;
                gap.least = gap.least.min(reached);
                gap.most = gap.most.max(reached);
            }
            Some(gap) => {
                let (before, now) = (seen.known, gap.most.max(reached));
                tracing::debug!(
                    channel,
                    before,
                    now,
                    "fast-app: fewer redis subscribers for longer than {GRACE:?}: they left"
                );
                seen.known = now;
                seen.gap = None;
                if now == 0 {
                    channels.remove(channel);
                }
            }
        }
    }

    /// The subscribers missing during `gap` are back: they missed its publishes.
    fn missed(&self, channel: &str, gap: Gap, expected: u64) {
        static MISSED: Throttle = Throttle::new();
        let total = self.shortfalls.fetch_add(gap.publishes, Ordering::Relaxed) + gap.publishes;
        self.metrics.shortfalls(gap.publishes);
        let reached = match gap.least == gap.most {
            true => gap.least.to_string(),
            false => format!("{}-{}", gap.least, gap.most),
        };
        match MISSED.admit() {
            Some(more) => tracing::warn!(
                channel,
                publishes = gap.publishes,
                reached,
                expected,
                total,
                "fast-app: redis publishes reached fewer subscribers than the channel has, \
                 while a server was re-subscribing: its clients missed them{}",
                Throttle::more(more)
            ),
            None => tracing::debug!(
                channel,
                publishes = gap.publishes,
                reached,
                expected,
                total,
                "fast-app: redis publishes reached fewer subscribers than the channel has"
            ),
        }
    }
}

/// The shortfall counter of the channel prefix `prefix`, shared by every
/// driver on that prefix in this process.
fn counter(prefix: &str) -> Arc<AtomicU64> {
    counters().entry(prefix.to_owned()).or_default().clone()
}

fn counters() -> MutexGuard<'static, BTreeMap<String, Arc<AtomicU64>>> {
    static COUNTERS: Mutex<BTreeMap<String, Arc<AtomicU64>>> = Mutex::new(BTreeMap::new());
    COUNTERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Publishes on the channel prefix `prefix`, by the servers and emitters of
/// this process, that reached fewer servers than were subscribed: a server
/// was re-subscribing after a Redis blip (a restart, `maxclients`, a killed
/// connection), and its clients missed them.
///
/// Such a publish is counted once the missing server is subscribed again
/// (until then, it cannot be told from a server that left for good); each
/// is also logged, at WARN at most once a second. The broadcast itself
/// returned `Ok`: the message was published, the loss is on the receiving
/// side.
///
/// ```
/// assert_eq!(fast_app_runtime::redis::publish_shortfalls("no-such-app"), 0);
/// ```
pub fn publish_shortfalls(prefix: &str) -> u64 {
    counters()
        .get(prefix)
        .map_or(0, |count| count.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Makes the gap open on `channel` older than [`GRACE`].
    fn age(receivers: &Receivers, channel: &str) {
        let mut channels = receivers.channels.lock().unwrap();
        let gap = channels.get_mut(channel).unwrap().gap.as_mut().unwrap();
        gap.since -= GRACE;
    }

    #[test]
    fn a_gap_is_counted_when_the_subscribers_come_back() {
        let receivers = Receivers::new("shortfall-unit-back", RedisMetrics::new("shortfall-unit-back"));
        receivers.record("c", 2);
        receivers.record("c", 2);
        assert_eq!(receivers.shortfalls(), 0, "nothing missed");
        receivers.record("c", 1);
        receivers.record("c", 1);
        assert_eq!(receivers.shortfalls(), 0, "not yet told from a departure");
        receivers.record("c", 2);
        assert_eq!(receivers.shortfalls(), 2);
        assert_eq!(publish_shortfalls("shortfall-unit-back"), 2);
        receivers.record("c", 2);
        assert_eq!(receivers.shortfalls(), 2, "a gap is counted once");
    }

    #[test]
    fn subscribers_gone_for_longer_than_the_grace_left() {
        let receivers = Receivers::new("shortfall-unit-left", RedisMetrics::new("shortfall-unit-left"));
        receivers.record("c", 3);
        receivers.record("c", 2);
        age(&receivers, "c");
        receivers.record("c", 2);
        receivers.record("c", 2);
        assert_eq!(receivers.shortfalls(), 0);
        assert_eq!(receivers.channels.lock().unwrap()["c"].known, 2);
    }

    #[test]
    fn a_channel_nobody_is_left_on_is_forgotten() {
        let receivers = Receivers::new("shortfall-unit-empty", RedisMetrics::new("shortfall-unit-empty"));
        receivers.record("c", 0);
        assert!(receivers.channels.lock().unwrap().is_empty());
        receivers.record("c", 1);
        receivers.record("c", 0);
        age(&receivers, "c");
        receivers.record("c", 0);
        assert!(receivers.channels.lock().unwrap().is_empty());
        assert_eq!(receivers.shortfalls(), 0);
    }
}
