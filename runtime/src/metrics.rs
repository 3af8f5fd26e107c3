//! Prometheus metrics, opted into with [`install`]: every series is named
//! `fast_app_*`. The list, with types and labels, is "Metrics" in the guide
//! of [fast-app](https://docs.rs/fast-app).
//!
//! ```
//! let metrics = fast_app::metrics::install().expect("no other recorder is installed");
//! // GET /metrics answers Prometheus' text format.
//! let app: axum::Router = axum::Router::new().merge(metrics.router("/metrics"));
//! # let _ = (app, metrics.render());
//! ```
//!
//! # Cost
//!
//! Until [`install`] is called, each instrumented point is one load of a
//! flag. Once it is, a broadcast costs its counter's and its histogram's
//! atomic updates and two reads of the clock: the handles of each series are
//! registered once (per event name, per namespace, per room key, per Redis
//! driver) and kept, so no label is built, hashed or looked up per call.
//! Handles are only taken once the recorder is installed (a handle taken
//! before would record into nothing, for ever).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::{BroadcastError, MetricsError, Refusal};

// --- The public side: install, render, route ---

/// The installed Prometheus recorder: renders every metric of the process
/// (fast-app's, and any the application records through the `metrics`
/// crate) in Prometheus' text format. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    handle: PrometheusHandle,
}

/// The Prometheus text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histograms are folded into their buckets between scrapes, so
/// that a process nobody scrapes does not keep every sample.
const UPKEEP: Duration = Duration::from_secs(5);

/// Buckets of [`BROADCAST_DURATION`], in seconds: an in-process emit takes
/// microseconds, a Redis publish up to the Redis timeout.
const DURATION_BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0,
];

static INSTALLED: Mutex<Option<Metrics>> = Mutex::new(None);

/// Whether a recorder of ours is installed: the one test the uninstrumented
/// path pays. Set (Release) only after the recorder is global, so a thread
/// that sees it (Acquire) registers its handles with that recorder.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Installs the Prometheus recorder as the process' `metrics` recorder and
/// starts recording fast-app's metrics; returns the handle that renders
/// them. Calling it again returns the same recorder.
///
/// Fails when another recorder of the `metrics` crate is installed already:
/// a process has one.
pub fn install() -> Result<Metrics, MetricsError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(metrics) = &*installed {
        return Ok(metrics.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(BROADCAST_DURATION.to_owned()), DURATION_BUCKETS)
        .map_err(|e| MetricsError::Install(Box::new(e)))?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| MetricsError::OtherRecorder)?;
    // Each render folds histograms too: without this thread, only a process
    // that is never scraped keeps its samples.
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("fast-app-metrics".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP);
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(
            "fast-app: metrics upkeep thread not started ({e}); histograms are folded at each scrape"
        );
    }
    describe();
    ENABLED.store(true, Ordering::Release);
    let metrics = Metrics { handle };
    *installed = Some(metrics.clone());
    Ok(metrics)
}

impl Metrics {
    /// Every metric, in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        redis_links().refresh();
        self.handle.render()
    }

    /// A router that answers `GET path` with [`render`](Self::render)'s text:
    /// merge it into the application's (`app.merge(metrics.router("/metrics"))`),
    /// or serve it on a port of its own. Panics on a path axum refuses, as
    /// [`axum::Router::route`] does.
    pub fn router<S: Clone + Send + Sync + 'static>(&self, path: &str) -> axum::Router<S> {
        let metrics = self.clone();
        axum::Router::new().route(
            path,
            axum::routing::get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)],
                        metrics.render(),
                    )
                }
            }),
        )
    }
}

/// The handles of a recorder that is installed, made by `register` the
/// first time, kept in `cell`; `None` (at the cost of one load) until then.
#[inline]
fn handles<T>(cell: &OnceLock<T>, register: impl FnOnce() -> T) -> Option<&T> {
    match ENABLED.load(Ordering::Acquire) {
        true => Some(cell.get_or_init(register)),
        false => None,
    }
}

// --- Names, and their help texts ---

const CONNECTIONS_OPEN: &str = "fast_app_connections_open";
const CONNECTIONS_OPENED: &str = "fast_app_connections_opened_total";
const CONNECTIONS_REFUSED: &str = "fast_app_connections_refused_total";
const ROOM_JOINS: &str = "fast_app_room_joins_total";
const ROOM_LEAVES: &str = "fast_app_room_leaves_total";
const BROADCASTS: &str = "fast_app_broadcasts_total";
const BROADCAST_DURATION: &str = "fast_app_broadcast_duration_seconds";
const REDIS_CONNECTED: &str = "fast_app_redis_connected";
const REDIS_RECONNECTS: &str = "fast_app_redis_reconnects_total";
const REDIS_PUBLISH_SHORTFALLS: &str = "fast_app_redis_publish_shortfalls_total";
const REDIS_MESSAGES_RECEIVED: &str = "fast_app_redis_messages_received_total";
const REDIS_MESSAGES_DROPPED: &str = "fast_app_redis_messages_dropped_total";
const SLOW_CONSUMERS_DISCONNECTED: &str = "fast_app_slow_consumers_disconnected_total";
const PACKETS_DROPPED: &str = "fast_app_packets_dropped_total";
const HISTORY_READ_BACK: &str = "fast_app_history_read_back_total";
const HISTORY_LOST: &str = "fast_app_history_lost_total";

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(CONNECTIONS_OPEN, "Socket.IO connections open, by namespace");
    describe_counter!(CONNECTIONS_OPENED, "Socket.IO connections accepted, by namespace");
    describe_counter!(
        CONNECTIONS_REFUSED,
        "Socket.IO connections refused by the namespace's connect function"
    );
    describe_counter!(ROOM_JOINS, "join_<key> requests, by room key and outcome");
    describe_counter!(ROOM_LEAVES, "leave_<key> requests, by room key and outcome");
    describe_counter!(BROADCASTS, "broadcast() calls, by event and outcome");
    describe_histogram!(
        BROADCAST_DURATION,
        Unit::Seconds,
        "From the broadcast() call until the transport took the packet, for broadcasts sent"
    );
    describe_gauge!(
        REDIS_CONNECTED,
        "Redis connections of this process that are up, by prefix"
    );
    describe_counter!(
        REDIS_RECONNECTS,
        "Redis connections that came back after they were lost"
    );
    describe_counter!(
        REDIS_PUBLISH_SHORTFALLS,
        "Redis publishes that reached fewer servers than were subscribed"
    );
    describe_counter!(REDIS_MESSAGES_RECEIVED, "Messages received from Redis pub/sub");
    describe_counter!(
        REDIS_MESSAGES_DROPPED,
        "Messages from Redis dropped because the adapter's stream buffer was full"
    );
    describe_counter!(
        SLOW_CONSUMERS_DISCONNECTED,
        "Connections closed because they did not read what they were sent"
    );
    describe_counter!(
        PACKETS_DROPPED,
        "Packets a connection's queue could not take, by namespace and event"
    );
    describe_counter!(
        HISTORY_READ_BACK,
        "Broadcasts to rooms with history this server missed on Redis pub/sub and read back from the room's log, by namespace"
    );
    describe_counter!(
        HISTORY_LOST,
        "Broadcasts to rooms with history this server missed and could no longer read back, by namespace"
    );
}

// --- Connections, by namespace ---

/// The connection series of one namespace.
pub(crate) struct NamespaceMetrics {
    namespace: &'static str,
    handles: OnceLock<NamespaceHandles>,
}

struct NamespaceHandles {
    open: Gauge,
    opened: Counter,
    refused: Counter,
}

impl NamespaceMetrics {
    pub(crate) fn new(namespace: &'static str) -> Self {
        Self {
            namespace,
            handles: OnceLock::new(),
        }
    }

    fn handles(&self) -> Option<&NamespaceHandles> {
        handles(&self.handles, || NamespaceHandles {
            open: gauge!(CONNECTIONS_OPEN, "namespace" => self.namespace),
            opened: counter!(CONNECTIONS_OPENED, "namespace" => self.namespace),
            refused: counter!(CONNECTIONS_REFUSED, "namespace" => self.namespace),
        })
    }

    /// A connection was accepted. The token says whether it is counted as
    /// open: hand it to [`closed`](Self::closed) when it goes, so that a
    /// connection opened before the recorder was installed is not taken off.
    pub(crate) fn opened(&self) -> Open {
        match self.handles() {
            Some(handles) => {
                handles.opened.increment(1);
                handles.open.increment(1.0);
                Open(true)
            }
            None => Open(false),
        }
    }

    /// The connection of `open` went away.
    pub(crate) fn closed(&self, open: Open) {
        if open.0
            && let Some(handles) = self.handles()
        {
            handles.open.decrement(1.0);
        }
    }

    /// The namespace's `connect` refused a connection.
    pub(crate) fn refused(&self) {
        if let Some(handles) = self.handles() {
            handles.refused.increment(1);
        }
    }
}

/// Whether a connection is counted in `fast_app_connections_open`.
#[derive(Clone, Copy)]
pub(crate) struct Open(bool);

// --- join_K and leave_K, by room key and outcome ---

/// The outcome series of one room's `join_K` or `leave_K`.
pub(crate) struct RequestMetrics {
    name: &'static str,
    namespace: &'static str,
    key: &'static str,
    /// The outcomes' label values: done (`joined` / `left`), forbidden
    /// (a join's guard said no; never for a leave), validation error.
    outcomes: [Option<&'static str>; 3],
    handles: OnceLock<[Counter; 3]>,
}

impl RequestMetrics {
    /// `join_K` requests of room `key` on `namespace`.
    pub(crate) fn join(namespace: &'static str, key: &'static str) -> Self {
        Self::new(
            ROOM_JOINS,
            namespace,
            key,
            [Some("joined"), Some("forbidden"), Some("validation_error")],
        )
    }

    /// `leave_K` requests of room `key` on `namespace`.
    pub(crate) fn leave(namespace: &'static str, key: &'static str) -> Self {
        Self::new(
            ROOM_LEAVES,
            namespace,
            key,
            [Some("left"), None, Some("validation_error")],
        )
    }

    fn new(
        name: &'static str,
        namespace: &'static str,
        key: &'static str,
        outcomes: [Option<&'static str>; 3],
    ) -> Self {
        Self {
            name,
            namespace,
            key,
            outcomes,
            handles: OnceLock::new(),
        }
    }

    /// Counts a request that ended with `outcome`.
    pub(crate) fn record<T>(&self, outcome: &Result<T, Refusal>) {
        let Some(counters) = handles(&self.handles, || {
            self.outcomes.map(|outcome| match outcome {
                Some(outcome) => counter!(
                    self.name, "namespace" => self.namespace, "room_key" => self.key, "outcome" => outcome
                ),
                None => Counter::noop(),
            })
        }) else {
            return;
        };
        let index = match outcome {
            Ok(_) => 0,
            Err(Refusal::Forbidden(_)) => 1,
            Err(Refusal::Validation(_)) => 2,
        };
        counters[index].increment(1);
    }
}

// --- Broadcasts, by event and outcome ---

/// When a broadcast started, if it is timed (a recorder is installed).
#[inline]
pub(crate) fn broadcast_started() -> Option<Instant> {
    match ENABLED.load(Ordering::Acquire) {
        true => Some(Instant::now()),
        false => None,
    }
}

/// Counts a broadcast of `event` that ended with `result`, and times it when
/// it was sent.
#[inline]
pub(crate) fn broadcast_done(
    event: &'static str,
    started: Option<Instant>,
    result: &Result<bool, BroadcastError>,
) {
    if let Some(started) = started {
        broadcast_recorded(event, started, result);
    }
}

fn broadcast_recorded(event: &'static str, started: Instant, result: &Result<bool, BroadcastError>) {
    let record = |handles: &EventHandles| match result {
        Ok(true) => {
            handles.sent.increment(1);
            handles.duration.record(started.elapsed().as_secs_f64());
        }
        Ok(false) => handles.skipped.increment(1),
        Err(_) => handles.failed.increment(1),
    };
    match events().get(event) {
        Some(handles) => record(handles),
        None => record(&EventHandles::register(event)),
    }
}

/// The series of one event name.
struct EventHandles {
    event: &'static str,
    sent: Counter,
    skipped: Counter,
    failed: Counter,
    duration: Histogram,
}

impl EventHandles {
    fn register(event: &'static str) -> Self {
        Self {
            event,
            sent: counter!(BROADCASTS, "event" => event, "outcome" => "sent"),
            skipped: counter!(BROADCASTS, "event" => event, "outcome" => "skipped"),
            failed: counter!(BROADCASTS, "event" => event, "outcome" => "failed"),
            duration: histogram!(BROADCAST_DURATION, "event" => event),
        }
    }
}

/// The handles of every event name broadcast since the recorder was
/// installed, found by the address of the name (an event's `NAME`), not
/// by its text: an open-addressed table, filled once per address and never
/// emptied, read without a lock. One name at two addresses (a `const` is
/// copied into each crate that uses it) gets two entries with the same
/// series.
struct EventTable {
    slots: [OnceLock<&'static EventHandles>; EVENT_SLOTS],
}

const EVENT_SLOTS: usize = 256;

fn events() -> &'static EventTable {
    static EVENTS: EventTable = EventTable {
        slots: [const { OnceLock::new() }; EVENT_SLOTS],
    };
    &EVENTS
}

impl EventTable {
    /// `event`'s handles, registered on its first broadcast; `None` once
    /// every slot is taken (the caller then registers for this call only).
    #[inline]
    fn get(&self, event: &'static str) -> Option<&'static EventHandles> {
        let same = |handles: &EventHandles| {
            handles.event.as_ptr() == event.as_ptr() && handles.event.len() == event.len()
        };
        // Fibonacci hashing of the address: names are at least 1-byte aligned
        // and often neighbours, so multiply before taking the top bits.
        let start = ((event.as_ptr() as usize as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize;
        for probe in 0..EVENT_SLOTS {
            let slot = &self.slots[(start + probe) % EVENT_SLOTS];
            let handles = match slot.get() {
                Some(handles) => handles,
                None => slot.get_or_init(|| Box::leak(Box::new(EventHandles::register(event)))),
            };
            if same(handles) {
                return Some(handles);
            }
        }
        None
    }
}

// --- Redis, by channel prefix ---

/// The series of one Redis driver, and whether its connection is up (read
/// at each render for `fast_app_redis_connected`).
#[derive(Debug)]
pub(crate) struct RedisMetrics {
    prefix: String,
    up: AtomicBool,
    handles: OnceLock<RedisHandles>,
}

#[derive(Debug)]
struct RedisHandles {
    reconnects: Counter,
    shortfalls: Counter,
    received: Counter,
    dropped: Counter,
}

impl RedisMetrics {
    /// The series of a driver on channel prefix `prefix`, connected.
    pub(crate) fn new(prefix: &str) -> Arc<Self> {
        let metrics = Arc::new(Self {
            prefix: prefix.to_owned(),
            up: AtomicBool::new(true),
            handles: OnceLock::new(),
        });
        redis_links().add(&metrics);
        metrics
    }

    fn handles(&self) -> Option<&RedisHandles> {
        handles(&self.handles, || {
            let prefix = || ("prefix", self.prefix.clone());
            RedisHandles {
                reconnects: counter!(REDIS_RECONNECTS, &[prefix()]),
                shortfalls: counter!(REDIS_PUBLISH_SHORTFALLS, &[prefix()]),
                received: counter!(REDIS_MESSAGES_RECEIVED, &[prefix()]),
                dropped: counter!(REDIS_MESSAGES_DROPPED, &[prefix()]),
            }
        })
    }

    /// Redis answered: the connection is up (again, when it was down).
    #[inline]
    pub(crate) fn up(&self) {
        if !self.up.load(Ordering::Relaxed) && !self.up.swap(true, Ordering::Relaxed) {
            tracing::debug!(prefix = self.prefix, "fast-app: redis connection is back");
            if let Some(handles) = self.handles() {
                handles.reconnects.increment(1);
            }
        }
    }

    /// The connection was lost, or Redis did not answer in time.
    pub(crate) fn down(&self) {
        self.up.store(false, Ordering::Relaxed);
    }

    /// A message arrived from Redis pub/sub.
    #[inline]
    pub(crate) fn received(&self) {
        if let Some(handles) = self.handles() {
            handles.received.increment(1);
        }
    }

    /// A message from Redis was dropped: the stream buffer was full.
    pub(crate) fn dropped(&self) {
        if let Some(handles) = self.handles() {
            handles.dropped.increment(1);
        }
    }

    /// `publishes` publishes reached fewer servers than were subscribed.
    pub(crate) fn shortfalls(&self, publishes: u64) {
        if let Some(handles) = self.handles() {
            handles.shortfalls.increment(publishes);
        }
    }
}

/// Every Redis driver alive, for `fast_app_redis_connected`, and every
/// prefix seen (a prefix whose drivers are gone reads 0, not stale).
#[derive(Default)]
struct RedisLinks {
    drivers: Vec<Weak<RedisMetrics>>,
    prefixes: Vec<String>,
}

struct Links(Mutex<RedisLinks>);

fn redis_links() -> &'static Links {
    static LINKS: Links = Links(Mutex::new(RedisLinks {
        drivers: Vec::new(),
        prefixes: Vec::new(),
    }));
    &LINKS
}

impl Links {
    fn lock(&self) -> std::sync::MutexGuard<'_, RedisLinks> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, driver: &Arc<RedisMetrics>) {
        let mut links = self.lock();
        links.drivers.retain(|d| d.strong_count() > 0);
        links.drivers.push(Arc::downgrade(driver));
        if !links.prefixes.contains(&driver.prefix) {
            links.prefixes.push(driver.prefix.clone());
        }
    }

    /// Sets `fast_app_redis_connected` of every prefix to the number of its
    /// drivers whose connection is up.
    fn refresh(&self) {
        let mut links = self.lock();
        links.drivers.retain(|d| d.strong_count() > 0);
        let live: Vec<Arc<RedisMetrics>> = links.drivers.iter().filter_map(Weak::upgrade).collect();
        for prefix in &links.prefixes {
            let up = live
                .iter()
                .filter(|d| &d.prefix == prefix && d.up.load(Ordering::Relaxed))
                .count();
            gauge!(REDIS_CONNECTED, "prefix" => prefix.clone()).set(up as f64);
        }
    }
}

// --- Drops at the transport (recorded by the slow-consumer handling) ---

/// A connection was closed as a slow consumer: its backlog passed
/// `Serve::max_outbound_bytes`, or took nothing for `Serve::write_stall_timeout`. No label: at the transport, the namespace is not known.
pub(crate) fn slow_consumer_disconnected() {
    static HANDLE: OnceLock<Counter> = OnceLock::new();
    if let Some(counter) = handles(&HANDLE, || counter!(SLOW_CONSUMERS_DISCONNECTED)) {
        counter.increment(1);
    }
}

/// This server read `n` broadcasts of `namespace` back from the rooms' logs,
/// having missed them on pub/sub. Rare: looked up per call.
pub(crate) fn history_read_back(namespace: &str, n: u64) {
    if n > 0 && ENABLED.load(Ordering::Acquire) {
        counter!(HISTORY_READ_BACK, "namespace" => namespace.to_owned()).increment(n);
    }
}

/// `n` broadcasts of `namespace` this server missed were no longer in the
/// rooms' logs. Rare: looked up per call.
pub(crate) fn history_lost(namespace: &str, n: u64) {
    if n > 0 && ENABLED.load(Ordering::Acquire) {
        counter!(HISTORY_LOST, "namespace" => namespace.to_owned()).increment(n);
    }
}

/// `n` packets of `event` on `namespace` were dropped: the packet queues of
/// `n` sockets were full. Rare (such a socket is closed soon after),
/// so the series is looked up per call.
pub(crate) fn packets_dropped(namespace: &str, event: &str, n: u64) {
    if n > 0 && ENABLED.load(Ordering::Acquire) {
        let labels = [("namespace", namespace.to_owned()), ("event", event.to_owned())];
        counter!(PACKETS_DROPPED, &labels).increment(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_table_finds_a_name_by_its_address() {
        let table = EventTable {
            slots: [const { OnceLock::new() }; EVENT_SLOTS],
        };
        let first = table.get("table_event").expect("a slot");
        assert!(std::ptr::eq(first, table.get("table_event").expect("a slot")));
        // The same text at another address is another entry (with the same series).
        let copy: &'static str = Box::leak(String::from("table_event").into_boxed_str());
        let second = table.get(copy).expect("a slot");
        assert!(!std::ptr::eq(first, second));
        assert_eq!(second.event, "table_event");
    }

    #[test]
    fn a_full_event_table_says_so() {
        let table = EventTable {
            slots: [const { OnceLock::new() }; EVENT_SLOTS],
        };
        let names: Vec<&'static str> = (0..EVENT_SLOTS)
            .map(|i| &*Box::leak(format!("event_{i}").into_boxed_str()))
            .collect();
        for name in &names {
            assert_eq!(table.get(name).expect("room left").event, *name);
        }
        assert!(table.get("one_too_many").is_none());
        assert_eq!(table.get(names[7]).expect("still found").event, "event_7");
    }
}
