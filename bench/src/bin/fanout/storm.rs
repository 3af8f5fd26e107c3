//! The reconnect storm: C clients connect and join all at once, as after a
//! server restart. Every connect is launched in the same instant (one task
//! each, no pacing); a failed or timed-out handshake is retried the way
//! `socket.io-client` reconnects by default: a 20 s handshake timeout
//! (`timeout`), then a delay of 1 s doubling per attempt up to 5 s
//! (`reconnectionDelay`, `reconnectionDelayMax`), each randomized by ±50%
//! (`randomizationFactor`), with no limit on attempts (`reconnectionAttempts`)
//! but the storm's deadline. Reports how many joined, how many retries it
//! took, the time from the launch until the last `joined` and the
//! distribution of each client's time to `joined`, and the server's peak
//! RSS and the CPU it spent from the launch until the last `joined`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;
use socketio_test_client::{Client, Event};

use super::{Args, Stack, median, start_server, usage};

/// socket.io-client's reconnection defaults.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
const RECONNECT_DELAY_MAX: Duration = Duration::from_secs(5);
const RANDOMIZATION: f64 = 0.5;

/// The delay before reconnect attempt `attempt` (0-based): 1 s doubled per
/// attempt, moved by up to ±50% at random, at most 5 s.
fn backoff(attempt: u32, random: f64) -> Duration {
    let base = RECONNECT_DELAY.as_secs_f64() * 2f64.powi(attempt.min(16) as i32);
    let jittered = base * (1.0 + RANDOMIZATION * (2.0 * random - 1.0));
    Duration::from_secs_f64(jittered.min(RECONNECT_DELAY_MAX.as_secs_f64()))
}

/// How many source addresses the storm uses (`--sources`, or one per 8000
/// clients).
fn sources(args: &Args) -> u64 {
    match args.sources {
        0 => args.clients.div_ceil(8000).max(1),
        n => n,
    }
}

/// Client `i`'s source address in storm number `run`; none (the system's
/// choice) with one source. Each storm takes its addresses from a block of
/// its own, `127.0.<1 + run>.x`: the previous storm's connections are still
/// in TIME_WAIT on theirs for a minute, and a bind on an address whose ports
/// they hold scans for a free one (the generator then spent up to 36 s of CPU
/// on 10 000 connects, and ran out of time, in back-to-back runs).
fn source(i: u64, sources: u64, run: u64) -> Option<IpAddr> {
    let block = 1 + (run % 250) as u8;
    (sources > 1).then(|| IpAddr::V4(Ipv4Addr::new(127, 0, block, 1 + (i % sources) as u8)))
}

/// How many storms this process has run: the next one's address block.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// A small xorshift generator for the jitter: each client its own sequence.
struct Jitter(u64);

impl Jitter {
    fn new(seed: u64) -> Self {
        Jitter(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the storm's clients share.
struct Tally {
    launched: Instant,
    joined: AtomicU64,
    /// Microseconds from the launch to each client's `joined`.
    join_times: Mutex<Vec<u64>>,
    retries: AtomicU64,
    retried_clients: AtomicU64,
    /// Failed attempts by error, for the report.
    errors: Mutex<HashMap<String, u64>>,
}

/// One client of the storm: connects (retrying as `socket.io-client` would
/// until `deadline`), joining its chat in the instant the server accepts.
async fn storm_client(
    url: String,
    index: u64,
    chat_id: u64,
    local: Option<IpAddr>,
    timeout: Duration,
    deadline: Instant,
    tally: Arc<Tally>,
) -> Option<Client> {
    let on_joined = tally.clone();
    let mut builder = Client::builder(&url);
    if let Some(local) = local {
        builder = builder.local_addr(local);
    }
    let builder = builder
        .timeout(timeout)
        .emit_on_connect("join_chat", json!({ "chat_id": chat_id }))
        .on_event(move |event: Event| {
            if event.name == "joined" {
                let at = on_joined.launched.elapsed().as_micros() as u64;
                on_joined
                    .join_times
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(at);
                on_joined.joined.fetch_add(1, Ordering::SeqCst);
            }
        });
    let mut jitter = Jitter::new(index + 1);
    let mut attempt = 0;
    loop {
        match builder.clone().connect().await {
            Ok(client) => return Some(client),
            Err(e) => {
                let mut kind = e.to_string();
                kind.truncate(80);
                *tally
                    .errors
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(kind)
                    .or_default() += 1;
                let delay = backoff(attempt, jitter.next());
                if Instant::now() + delay >= deadline {
                    return None;
                }
                if attempt == 0 {
                    tally.retried_clients.fetch_add(1, Ordering::SeqCst);
                }
                tally.retries.fetch_add(1, Ordering::SeqCst);
                attempt += 1;
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// The kernel's count of connections dropped because a listen queue was
/// full (`ListenDrops` of /proc/net/netstat, which includes
/// `ListenOverflows`), machine-wide.
fn listen_drops() -> u64 {
    let netstat = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut lines = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "ListenDrops")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

struct StormReport {
    name: String,
    clients: u64,
    joined: u64,
    retries: u64,
    retried_clients: u64,
    /// Seconds from the launch to the last `joined`, if every client joined.
    all_joined: Option<f64>,
    p50_ms: f64,
    p99_ms: f64,
    rss_mb: f64,
    cpu: f64,
    /// Connection attempts the kernel dropped at the server's full listen
    /// queue (the client's SYN is retried after 1 s, 3 s, ...).
    listen_drops: u64,
    /// The load generator's own CPU over the storm.
    generator_cpu: f64,
    errors: String,
}

impl StormReport {
    fn print(&self, label: &str) {
        let all = match self.all_joined {
            Some(s) => format!("{s:.3} s"),
            None => "never".into(),
        };
        println!(
            "{:<10} {label:<6} joined {}/{}  all joined in {all}  join p50 {:.0} ms  p99 {:.0} ms  retries {} \
             ({} clients)  listen drops {}  rss {:.0} MB  cpu {:.2} s  generator cpu {:.2} s{}",
            self.name,
            self.joined,
            self.clients,
            self.p50_ms,
            self.p99_ms,
            self.retries,
            self.retried_clients,
            self.listen_drops,
            self.rss_mb,
            self.cpu,
            self.generator_cpu,
            if self.errors.is_empty() {
                String::new()
            } else {
                format!("  [failed attempts: {}]", self.errors)
            }
        );
    }
}

async fn run_storm(args: &Args, stack: &Stack) -> StormReport {
    let (mut server, url) = start_server(args, stack);
    let (_, cpu_before) = usage(server.id());
    let drops_before = listen_drops();
    let (_, generator_before) = usage(std::process::id());
    let tally = Arc::new(Tally {
        launched: Instant::now(),
        joined: AtomicU64::new(0),
        join_times: Mutex::new(Vec::with_capacity(args.clients as usize)),
        retries: AtomicU64::new(0),
        retried_clients: AtomicU64::new(0),
        errors: Mutex::default(),
    });
    let deadline = tally.launched + Duration::from_secs_f64(args.storm_deadline);
    let timeout = Duration::from_secs_f64(args.connect_timeout);
    let sources = sources(args);
    // Offset by the process id, so that a storm right after another
    // invocation's also starts on fresh addresses.
    let run = RUNS.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id());
    // Every connect at once: all tasks are spawned before any is polled
    // much (spawning 20 000 takes a few milliseconds).
    let tasks: Vec<_> = (0..args.clients)
        .map(|i| {
            tokio::spawn(storm_client(
                url.clone(),
                i,
                1 + i % args.rooms,
                source(i, sources, run),
                timeout,
                deadline,
                tally.clone(),
            ))
        })
        .collect();
    // Until every client joined, or every task ended and no `joined` came
    // for 3 s, or the deadline (plus one handshake) passed.
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let joined = tally.joined.load(Ordering::SeqCst);
        if joined >= args.clients {
            break;
        }
        if joined != last {
            (last, last_change) = (joined, Instant::now());
        }
        let ended = tasks.iter().all(|t| t.is_finished());
        if (ended && last_change.elapsed() > Duration::from_secs(3)) || Instant::now() > deadline + timeout {
            break;
        }
    }
    let (rss_kb, cpu_after) = usage(server.id());
    let drops = listen_drops().saturating_sub(drops_before);
    let (_, generator_after) = usage(std::process::id());
    let mut clients = Vec::with_capacity(tasks.len());
    for task in tasks {
        task.abort();
        if let Ok(Some(client)) = task.await {
            clients.push(client);
        }
    }
    drop(clients);
    let _ = server.kill();
    let _ = server.wait();

    let joined = tally.joined.load(Ordering::SeqCst);
    let times = tally.join_times.lock().unwrap_or_else(|e| e.into_inner());
    let mut hist = Histogram::<u32>::new(3).expect("3 significant digits are supported");
    for &t in times.iter() {
        hist.record(t).expect("the histogram resizes");
    }
    let mut errors: Vec<(String, u64)> = tally
        .errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain()
        .collect();
    errors.sort_by_key(|e| std::cmp::Reverse(e.1));
    StormReport {
        name: stack.name.clone(),
        clients: args.clients,
        joined,
        retries: tally.retries.load(Ordering::SeqCst),
        retried_clients: tally.retried_clients.load(Ordering::SeqCst),
        all_joined: (joined >= args.clients).then(|| hist.max() as f64 / 1e6),
        p50_ms: hist.value_at_quantile(0.50) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
        rss_mb: rss_kb as f64 / 1024.0,
        cpu: cpu_after - cpu_before,
        listen_drops: drops,
        generator_cpu: generator_after - generator_before,
        errors: errors
            .iter()
            .take(3)
            .map(|(e, n)| format!("{n}x {e}"))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

pub(super) async fn run(args: &Args) {
    println!(
        "shape: storm, {} clients in {} rooms connecting at once from {} source address(es) \
         (handshake timeout {} s, reconnect 1-5 s ±50%, deadline {} s)",
        args.clients,
        args.rooms,
        sources(args),
        args.connect_timeout,
        args.storm_deadline
    );
    assert!(sources(args) <= 254, "at most 254 source addresses");
    let n = args.stacks.len();
    let mut runs: Vec<Vec<StormReport>> = (0..n).map(|_| Vec::new()).collect();
    for round in 0..args.repeat.max(1) {
        for k in 0..n {
            let i = (k + round) % n;
            // Let the previous server's sockets close before the next storm.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let report = run_storm(args, &args.stacks[i]).await;
            report.print(&format!("run {}", round + 1));
            runs[i].push(report);
        }
    }
    let med = |i: usize, f: &dyn Fn(&StormReport) -> f64| median(runs[i].iter().map(f).collect());
    let all = |r: &StormReport| r.all_joined.unwrap_or(f64::INFINITY);
    for (i, stack) in args.stacks.iter().enumerate() {
        let incomplete = runs[i].iter().filter(|r| r.all_joined.is_none()).count();
        println!(
            "median {:<10} of {} runs: joined {:.0}/{}  all joined in {:.3} s  join p50 {:.0} ms  p99 {:.0} ms  \
             retries {:.0}  listen drops {:.0}  rss {:.0} MB  cpu {:.2} s  incomplete runs {incomplete}",
            stack.name,
            runs[i].len(),
            med(i, &|r| r.joined as f64),
            args.clients,
            med(i, &all),
            med(i, &|r| r.p50_ms),
            med(i, &|r| r.p99_ms),
            med(i, &|r| r.retries as f64),
            med(i, &|r| r.listen_drops as f64),
            med(i, &|r| r.rss_mb),
            med(i, &|r| r.cpu),
        );
    }
    if let Some(b) = args.stacks.iter().position(|s| s.name == "rust-raw") {
        for (i, stack) in args.stacks.iter().enumerate() {
            println!(
                "ratio {:<10} all-joined time {:.2}x rust-raw, rss {:.2}x, cpu {:.2}x (medians)",
                stack.name,
                med(i, &all) / med(b, &all).max(1e-6),
                med(i, &|r| r.rss_mb) / med(b, &|r| r.rss_mb).max(0.001),
                med(i, &|r| r.cpu) / med(b, &|r| r.cpu).max(0.001),
            );
        }
    }
}
