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

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fast_app_bench::now_us;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

struct Stack {
    name: String,
    server: String,
    emitter: String,
}

struct Args {
    clients: u64,
    rooms: u64,
    events: u64,
    rate: f64,
    redis: String,
    repeat: usize,
    stacks: Vec<Stack>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        clients: 1000,
        rooms: 100,
        events: 20000,
        rate: 0.0,
        redis: "redis://127.0.0.1:6379/14".into(),
        repeat: 1,
        stacks: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--clients" => args.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--rooms" => args.rooms = value()?.parse().map_err(|e| format!("--rooms: {e}"))?,
            "--events" => args.events = value()?.parse().map_err(|e| format!("--events: {e}"))?,
            "--rate" => args.rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--redis" => args.redis = value()?,
            "--repeat" => args.repeat = value()?.parse().map_err(|e| format!("--repeat: {e}"))?,
            "--stack" => {
                let spec = value()?;
                let (name, cmds) = spec.split_once('=').ok_or("--stack NAME=SERVER;;EMITTER")?;
                let (server, emitter) = cmds.split_once(";;").ok_or("--stack NAME=SERVER;;EMITTER")?;
                args.stacks.push(Stack {
                    name: name.into(),
                    server: server.into(),
                    emitter: emitter.into(),
                });
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.stacks.is_empty() {
        return Err("give at least one --stack".into());
    }
    Ok(args)
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

    /// Moves `other`'s records into this one.
    fn take(&mut self, other: &mut Seen) {
        self.seqs.append(&mut other.seqs);
        self.latencies.append(&mut other.latencies);
        self.first_sent = earliest(self.first_sent, other.first_sent.take());
        self.last_received = self.last_received.max(other.last_received);
    }
}

/// The earlier of two optional times.
fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    a.into_iter().chain(b).min()
}

/// One client: connect, join its chat, then record every `update_chat`
/// (batched into the shared record every 100 ms).
async fn client(
    url: String,
    chat_id: u64,
    joined: Arc<AtomicU64>,
    seen: Arc<Mutex<Seen>>,
) -> Result<(), String> {
    // A burst of thousands of connects can overflow the listen backlog; like
    // a real client, try again a few times before giving up.
    let mut attempt = 0;
    let (mut ws, _) = loop {
        match tokio_tungstenite::connect_async(&url).await {
            Ok(connected) => break connected,
            Err(e) if attempt >= 4 => return Err(e.to_string()),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
        }
    };
    ws.send(Message::text("40")).await.map_err(|e| e.to_string())?;
    let mut local = Seen::default();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = tick.tick() => {
                if !local.seqs.is_empty() {
                    seen.lock().await.take(&mut local);
                }
                continue;
            }
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break,
        };
        let text = text.as_str();
        if text == "2" {
            let _ = ws.send(Message::text("3")).await;
        } else if text.starts_with("40") {
            let join = format!("42[\"join_chat\",{{\"chat_id\":{chat_id}}}]");
            ws.send(Message::text(join)).await.map_err(|e| e.to_string())?;
        } else if text.starts_with("42[\"joined\"") {
            joined.fetch_add(1, Ordering::SeqCst);
        } else if let Some(body) = text.strip_prefix("42[\"update_chat\",") {
            let now = now_us();
            let value: serde_json::Value =
                serde_json::from_str(body.trim_end_matches(']')).unwrap_or_default();
            let (Some(seq), Some(t)) = (value["seq"].as_u64(), value["t"].as_u64()) else {
                continue;
            };
            // Python sends nanoseconds, the others microseconds.
            let t = if t > 100_000_000_000_000_000 { t / 1000 } else { t };
            local.record(seq, t, now);
        }
    }
    Ok(())
}

async fn delivered(seen: &[Arc<Mutex<Seen>>]) -> u64 {
    let mut total = 0;
    for s in seen {
        total += s.lock().await.seqs.len() as u64;
    }
    total
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

async fn run_stack(args: &Args, stack: &Stack) -> Report {
    let port = free_port();
    let env = [
        ("PORT", port.to_string()),
        ("REDIS_SOCKETIO_URL", args.redis.clone()),
    ];
    let mut server = shell(&stack.server, &env, Stdio::null());
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{}: server did not listen", stack.name);
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let joined = Arc::new(AtomicU64::new(0));
    let seen: Vec<Arc<Mutex<Seen>>> = (0..args.clients).map(|_| Arc::default()).collect();
    let mut tasks = Vec::new();
    for (i, seen) in seen.iter().enumerate() {
        let chat_id = 1 + i as u64 % args.rooms;
        tasks.push(tokio::spawn(client(
            url.clone(),
            chat_id,
            joined.clone(),
            seen.clone(),
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
    let emit = emitter.wait_with_output().expect("emitter runs");
    let emit = String::from_utf8_lossy(&emit.stdout)
        .lines()
        .find(|l| l.starts_with("EMIT"))
        .unwrap_or("")
        .to_owned();

    // Wait until everything arrived, or nothing more arrives for 2 s.
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = delivered(&seen).await;
        if now != last {
            last = now;
            last_change = Instant::now();
        }
        if now >= expected || last_change.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let (rss_kb, cpu) = usage(server.id());
    for task in &tasks {
        task.abort();
    }
    let _ = server.kill();
    let _ = server.wait();

    let mut latencies = Vec::new();
    let (mut unique, mut duplicated) = (0u64, 0u64);
    // The delivery window: from the first event's send time to the last arrival.
    let (mut first_sent, mut last_received) = (u64::MAX, 0);
    for s in &seen {
        let s = s.lock().await;
        first_sent = first_sent.min(s.first_sent.unwrap_or(u64::MAX));
        last_received = last_received.max(s.last_received);
        let mut counts: HashMap<u64, u32> = HashMap::new();
        for seq in &s.seqs {
            *counts.entry(*seq).or_default() += 1;
        }
        unique += counts.len() as u64;
        duplicated += counts.values().map(|c| u64::from(c - 1)).sum::<u64>();
        latencies.extend_from_slice(&s.latencies);
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Report {
        name: stack.name.clone(),
        deliveries: latencies.len() as u64,
        expected,
        lost: expected.saturating_sub(unique),
        duplicated,
        seconds: last_received.saturating_sub(first_sent) as f64 / 1e6,
        p50: pct(0.50),
        p99: pct(0.99),
        max: latencies.last().copied().unwrap_or(0),
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
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("fanout: {e}");
            std::process::exit(2);
        }
    };
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
            let report = run_stack(&args, &args.stacks[i]).await;
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
