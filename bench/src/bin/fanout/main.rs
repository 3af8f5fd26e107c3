//! The fan-out load generator: for each stack, starts its server, opens C
//! websocket clients that join R rooms with `join_chat`, runs the stack's
//! emitter for M `update_chat` events through Redis, and reports deliveries
//! per second, lost and duplicated deliveries, latency, and the server's
//! peak RSS and CPU seconds; then the ratios between stacks. Deliveries per
//! second count over the delivery window: from the earliest send time in a
//! received payload (`t`) to the last arrival, so neither the emitter's
//! start-up nor the generator's polling counts.
//!
//! ```text
//! fanout --clients 1000 --rooms 100 --events 20000 [--rate 0] [--repeat 3] --stack NAME=SERVER_CMD;;EMITTER_CMD ...
//! ```
//! With `--repeat N`, every stack runs N times, the order of the stacks
//! rotated each round, and the ratios come from the medians.
//! `bench/run.sh` sets up the reference stacks and passes their commands.
//!
//! Two more load shapes, chosen with `--mode`: `storm` (every client
//! connects and joins at once, as after a server restart; see [`storm`]) and
//! `soak` (steady broadcasts for a long time; see [`soak`]).

mod soak;
mod storm;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use fast_app_bench::now_us;
use hdrhistogram::Histogram;
use serde_json::json;
use socketio_test_client::{Client, ClientError, Event};

/// A stack to measure: `NAME=SERVER_CMD;;EMITTER_CMD`.
#[derive(Debug, Clone)]
struct Stack {
    name: String,
    server: String,
    emitter: String,
}

fn parse_stack(spec: &str) -> Result<Stack, String> {
    let usage = "expected NAME=SERVER;;EMITTER";
    let (name, cmds) = spec.split_once('=').ok_or(usage)?;
    let (server, emitter) = cmds.split_once(";;").ok_or(usage)?;
    Ok(Stack {
        name: name.into(),
        server: server.into(),
        emitter: emitter.into(),
    })
}

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// C clients join, then M events in a burst or at `--rate`.
    Fanout,
    /// C clients connect and join all at once; nothing is broadcast.
    Storm,
    /// C clients, `--rate` events/s for `--duration` seconds.
    Soak,
}

/// The fan-out load generator: every stack's server, C clients in R rooms,
/// M events through its emitter.
#[derive(Debug, Parser)]
struct Args {
    /// The load shape.
    #[arg(long, value_enum, default_value_t = Mode::Fanout)]
    mode: Mode,
    /// Websocket clients to open.
    #[arg(long, default_value_t = 1000)]
    clients: u64,
    /// Rooms the clients join, client `i` in chat `1 + i % rooms`.
    #[arg(long, default_value_t = 100)]
    rooms: u64,
    /// Events the emitter sends.
    #[arg(long, default_value_t = 20000)]
    events: u64,
    /// Events per second (0: as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// The Redis the servers and emitters share.
    #[arg(long, default_value = "redis://127.0.0.1:6379/14")]
    redis: String,
    /// Runs of every stack, the order rotated each round; ratios compare medians.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// A stack, `NAME=SERVER_CMD;;EMITTER_CMD` (repeat for more).
    #[arg(long = "stack", required = true, value_parser = parse_stack)]
    stacks: Vec<Stack>,
    /// Storm: the handshake timeout of one attempt, in seconds
    /// (socket.io-client's `timeout`, 20 s).
    #[arg(long, default_value_t = 20.0)]
    connect_timeout: f64,
    /// Storm: source addresses to spread the clients over, client `i` from
    /// `127.0.0.(1 + i % sources)` (0: one per 8000 clients). Past half its
    /// range of ephemeral ports, the kernel's search for a free port makes
    /// every further connect from one address slow.
    #[arg(long, default_value_t = 0)]
    sources: u64,
    /// Storm: seconds after the launch when clients stop retrying.
    #[arg(long, default_value_t = 120.0)]
    storm_deadline: f64,
    /// Soak: seconds of broadcasting (the emitter gets `rate * duration` events).
    #[arg(long, default_value_t = 600.0)]
    duration: f64,
    /// Soak: seconds between two samples of the server's RSS and CPU.
    #[arg(long, default_value_t = 30.0)]
    sample_secs: f64,
    /// Soak: the width of a latency window, in seconds of send time.
    #[arg(long, default_value_t = 60.0)]
    window_secs: f64,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn shell(cmd: &str, env: &[(&str, String)], stdout: Stdio) -> Child {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("exec {cmd}"))
        .stdout(stdout)
        .stderr(Stdio::inherit());
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().expect("spawn")
}

/// Peak RSS (kB) and CPU seconds of a process, from /proc.
fn usage(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    (hwm, ticks as f64 / 100.0)
}

/// Current RSS (kB) of a process, from /proc.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// This process's soft limit of open files, which the servers inherit.
fn open_files_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

/// Starts a stack's server on a free port and waits until it listens;
/// returns it and its base URL.
fn start_server(args: &Args, stack: &Stack) -> (Child, String) {
    let port = free_port();
    let env = [
        ("PORT", port.to_string()),
        ("REDIS_SOCKETIO_URL", args.redis.clone()),
    ];
    let server = shell(&stack.server, &env, Stdio::null());
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{}: server did not listen", stack.name);
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, format!("http://127.0.0.1:{port}"))
}

/// The `seq` and send time `t` (unix µs) of an `update_chat`, if it is one.
fn update(event: &Event) -> Option<(u64, u64)> {
    if event.name != "update_chat" {
        return None;
    }
    let payload = event.args.first()?;
    let (seq, t) = (payload["seq"].as_u64()?, payload["t"].as_u64()?);
    // Python sends nanoseconds, the others microseconds.
    Some((seq, if t > 100_000_000_000_000_000 { t / 1000 } else { t }))
}

/// What one client saw: which events (by seq), their latencies in µs, and
/// the window they span: the earliest send time among them and the latest
/// arrival (unix µs).
#[derive(Default)]
struct Seen {
    seqs: Vec<u64>,
    latencies: Vec<u64>,
    first_sent: Option<u64>,
    last_received: u64,
}

impl Seen {
    fn record(&mut self, seq: u64, sent: u64, received: u64) {
        self.seqs.push(seq);
        self.latencies.push(received.saturating_sub(sent));
        self.first_sent = earliest(self.first_sent, Some(sent));
        self.last_received = self.last_received.max(received);
    }
}

/// The earlier of two optional times.
fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    a.into_iter().chain(b).min()
}

/// One client: connects, joins its chat in the instant the server accepts
/// it, counts its `joined`, and hands every `update_chat` to `record` (seq,
/// send time, arrival time) as it arrives, in the connection's own task
/// (`on_event`).
async fn client(
    base_url: String,
    chat_id: u64,
    joined: Arc<AtomicU64>,
    record: impl Fn(u64, u64, u64) + Send + Sync + 'static,
) -> Result<Client, ClientError> {
    let on_event = move |event: Event| {
        let now = now_us();
        if event.name == "joined" {
            joined.fetch_add(1, Ordering::SeqCst);
        } else if let Some((seq, t)) = update(&event) {
            record(seq, t, now);
        }
    };
    let builder = Client::builder(&base_url)
        .timeout(Duration::from_secs(60))
        .emit_on_connect("join_chat", json!({ "chat_id": chat_id }))
        .on_event(on_event);
    // A burst of thousands of connects can overflow the listen backlog; like
    // a real client, try again a few times before giving up.
    let mut attempt = 0;
    loop {
        match builder.clone().connect().await {
            Ok(client) => return Ok(client),
            Err(e) if attempt >= 4 => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
        }
    }
}

fn delivered(seen: &[Arc<Mutex<Seen>>]) -> u64 {
    seen.iter()
        .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).seqs.len() as u64)
        .sum()
}

struct Report {
    name: String,
    deliveries: u64,
    expected: u64,
    lost: u64,
    duplicated: u64,
    seconds: f64,
    p50: u64,
    p99: u64,
    max: u64,
    rss_mb: f64,
    cpu: f64,
    emit: String,
}

/// Opens `args.clients` clients, 200 every 20 ms, client `i` in chat
/// `1 + i % rooms` and recording through `recorder(i)`, and waits until every
/// one has joined (60 s at most; then kills the server and panics).
async fn join_all<R>(
    args: &Args,
    stack: &Stack,
    server: &mut Child,
    url: &str,
    recorder: impl Fn(usize) -> R,
) -> Vec<Client>
where
    R: Fn(u64, u64, u64) + Send + Sync + 'static,
{
    let joined = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..args.clients as usize {
        let chat_id = 1 + i as u64 % args.rooms;
        tasks.push(tokio::spawn(client(
            url.to_owned(),
            chat_id,
            joined.clone(),
            recorder(i),
        )));
        if i % 200 == 199 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while joined.load(Ordering::SeqCst) < args.clients {
        if Instant::now() >= deadline {
            let _ = server.kill();
            let _ = server.wait();
            panic!(
                "{}: only {} clients joined",
                stack.name,
                joined.load(Ordering::SeqCst)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut clients = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok(Ok(client)) = task.await {
            clients.push(client);
        }
    }
    clients
}

async fn run_stack(args: &Args, stack: &Stack) -> Report {
    let (mut server, url) = start_server(args, stack);
    let seen: Vec<Arc<Mutex<Seen>>> = (0..args.clients).map(|_| Arc::default()).collect();
    let clients = join_all(args, stack, &mut server, &url, |i| {
        let seen = seen[i].clone();
        move |seq, sent, received| {
            seen.lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(seq, sent, received)
        }
    })
    .await;

    let per_room = |room: u64| (0..args.events).filter(|n| n % args.rooms == room).count() as u64;
    let expected: u64 = (0..args.clients).map(|i| per_room(i % args.rooms)).sum();
    let emit_env = [
        ("REDIS_SOCKETIO_URL", args.redis.clone()),
        ("EVENTS", args.events.to_string()),
        ("ROOMS", args.rooms.to_string()),
        ("ROOM_BASE", "1".to_string()),
        ("EMIT_RATE", args.rate.to_string()),
    ];
    let emitter = shell(&stack.emitter, &emit_env, Stdio::piped());
    let emit = emit_summary(emitter.wait_with_output().expect("emitter runs"));

    // Wait until everything arrived, or nothing more arrives for 2 s.
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = delivered(&seen);
        if now != last {
            last = now;
            last_change = Instant::now();
        }
        if now >= expected || last_change.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let (rss_kb, cpu) = usage(server.id());
    // Closes every connection: dropping a client ends its task.
    drop(clients);
    let _ = server.kill();
    let _ = server.wait();

    // Latencies to 5 significant digits: under 10 µs off at 1 s, and the
    // histogram resizes itself to the largest latency recorded.
    let mut latencies = Histogram::<u32>::new(5).expect("5 significant digits are supported");
    let (mut unique, mut duplicated) = (0u64, 0u64);
    // The delivery window: from the first event's send time to the last arrival.
    let (mut first_sent, mut last_received) = (u64::MAX, 0);
    for s in &seen {
        let s = s.lock().unwrap_or_else(|e| e.into_inner());
        first_sent = first_sent.min(s.first_sent.unwrap_or(u64::MAX));
        last_received = last_received.max(s.last_received);
        let mut counts: HashMap<u64, u32> = HashMap::new();
        for seq in &s.seqs {
            *counts.entry(*seq).or_default() += 1;
        }
        unique += counts.len() as u64;
        duplicated += counts.values().map(|c| u64::from(c - 1)).sum::<u64>();
        for &latency in &s.latencies {
            latencies.record(latency).expect("the histogram resizes");
        }
    }
    Report {
        name: stack.name.clone(),
        deliveries: latencies.len(),
        expected,
        lost: expected.saturating_sub(unique),
        duplicated,
        seconds: last_received.saturating_sub(first_sent) as f64 / 1e6,
        p50: latencies.value_at_quantile(0.50),
        p99: latencies.value_at_quantile(0.99),
        max: latencies.max(),
        rss_mb: rss_kb as f64 / 1024.0,
        cpu,
        emit,
    }
}

impl Report {
    fn rate(&self) -> f64 {
        self.deliveries as f64 / self.seconds.max(1e-6)
    }

    fn print(&self, label: &str) {
        println!(
            "{:<10} {label:<6} deliveries/s {:>10.0} in {:.3} s  delivered {}/{}  lost {}  dup {}  p50 {:.2} ms  p99 {:.2} ms  \
             max {:.2} ms  rss {:.0} MB  cpu {:.2} s  deliveries/cpu-s {:.0}   [{}]",
            self.name,
            self.rate(),
            self.seconds,
            self.deliveries,
            self.expected,
            self.lost,
            self.duplicated,
            self.p50 as f64 / 1000.0,
            self.p99 as f64 / 1000.0,
            self.max as f64 / 1000.0,
            self.rss_mb,
            self.cpu,
            self.deliveries as f64 / self.cpu.max(0.001),
            self.emit
        );
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Some(limit) = open_files_limit() {
        // Each client is a socket here and one more in the server.
        if args.clients + 100 > limit {
            eprintln!(
                "warning: {} clients, but at most {limit} open files per process (ulimit -n)",
                args.clients
            );
        }
    }
    match args.mode {
        Mode::Fanout => fanout(&args).await,
        Mode::Storm => storm::run(&args).await,
        Mode::Soak => soak::run(&args).await,
    }
}

async fn fanout(args: &Args) {
    println!(
        "shape: {} clients in {} rooms, {} events{}",
        args.clients,
        args.rooms,
        args.events,
        if args.rate > 0.0 {
            format!(" at {} events/s", args.rate)
        } else {
            " (burst)".into()
        }
    );
    let n = args.stacks.len();
    let mut runs: Vec<Vec<Report>> = (0..n).map(|_| Vec::new()).collect();
    for round in 0..args.repeat.max(1) {
        for k in 0..n {
            let i = (k + round) % n;
            let report = run_stack(args, &args.stacks[i]).await;
            report.print(&format!("run {}", round + 1));
            runs[i].push(report);
        }
    }
    // Medians per stack; the ratios compare medians.
    let med = |i: usize, f: &dyn Fn(&Report) -> f64| median(runs[i].iter().map(f).collect());
    let base = args.stacks.iter().position(|s| s.name == "rust-raw");
    for (i, stack) in args.stacks.iter().enumerate() {
        let lost: u64 = runs[i].iter().map(|r| r.lost).sum();
        let dup: u64 = runs[i].iter().map(|r| r.duplicated).sum();
        println!(
            "median {:<10} of {} runs: deliveries/s {:.0}  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  rss {:.0} MB  \
             cpu {:.2} s  deliveries/cpu-s {:.0}  lost {lost}  dup {dup}",
            stack.name,
            runs[i].len(),
            med(i, &Report::rate),
            med(i, &|r| r.p50 as f64) / 1000.0,
            med(i, &|r| r.p99 as f64) / 1000.0,
            med(i, &|r| r.max as f64) / 1000.0,
            med(i, &|r| r.rss_mb),
            med(i, &|r| r.cpu),
            med(i, &|r| r.deliveries as f64 / r.cpu.max(0.001)),
        );
    }
    if let Some(b) = base {
        for (i, stack) in args.stacks.iter().enumerate() {
            println!(
                "ratio {:<10} throughput {:.2}x rust-raw, p99 {:.2}x, rss {:.2}x, cpu {:.2}x (medians)",
                stack.name,
                med(i, &Report::rate) / med(b, &Report::rate),
                med(i, &|r| r.p99 as f64) / med(b, &|r| r.p99 as f64).max(1.0),
                med(i, &|r| r.rss_mb) / med(b, &|r| r.rss_mb).max(0.001),
                med(i, &|r| r.cpu) / med(b, &|r| r.cpu).max(0.001),
            );
        }
    }
}

/// The emitter's `EMIT ...` summary line, or "" if it printed none.
fn emit_summary(output: std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find(|l| l.starts_with("EMIT"))
        .unwrap_or("")
        .to_owned()
}
