//! The soak: C clients in R rooms (joined as in the fan-out shapes), then the
//! stack's emitter at a steady `--rate` for `--duration` seconds. Samples the
//! server's RSS and CPU every `--sample-secs` (the first sample after every
//! client joined, before the emitter starts; the last after the last
//! delivery), checks every client's sequence numbers for loss and
//! duplicates, and reports latency per window of `--window-secs` of send
//! time (an event sent in minute 3 counts in minute 3 however late it
//! arrives).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fast_app_bench::now_us;
use hdrhistogram::Histogram;

use super::{Args, Stack, join_all, median, rss_kb, shell, start_server, usage};

/// Latencies up to an hour, to 3 significant digits (0.1%).
fn histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

/// What every client records into: the latency windows, by send time.
struct Windows {
    /// Unix µs when the emitter was started; windows count from it.
    origin: AtomicU64,
    width_us: u64,
    hists: Mutex<Vec<Histogram<u32>>>,
    delivered: AtomicU64,
    /// Deliveries of an event not meant for the client's room.
    stray: AtomicU64,
}

impl Windows {
    fn record(&self, sent: u64, received: u64) {
        let window = (sent.saturating_sub(self.origin.load(Ordering::Relaxed)) / self.width_us) as usize;
        let mut hists = self.hists.lock().unwrap_or_else(|e| e.into_inner());
        while hists.len() <= window {
            hists.push(histogram());
        }
        hists[window].saturating_record(received.saturating_sub(sent).max(1));
    }
}

/// One sample of the server: seconds since the emitter started, RSS, CPU.
struct Sample {
    at: f64,
    rss_mb: f64,
    cpu: f64,
    delivered: u64,
}

struct WindowReport {
    from: f64,
    deliveries: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

struct SoakReport {
    name: String,
    delivered: u64,
    expected: u64,
    lost: u64,
    duplicated: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    worst_window_p99_ms: f64,
    windows: Vec<WindowReport>,
    samples: Vec<Sample>,
    hwm_mb: f64,
    cpu: f64,
    emit: String,
}

impl SoakReport {
    fn rss_start(&self) -> f64 {
        self.samples.first().map_or(0.0, |s| s.rss_mb)
    }

    fn rss_end(&self) -> f64 {
        self.samples.last().map_or(0.0, |s| s.rss_mb)
    }

    fn print(&self, label: &str, window_secs: f64) {
        println!(
            "{:<10} {label:<6} delivered {}/{}  lost {}  dup {}  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  \
             worst window p99 {:.2} ms  rss start {:.0} MB  end {:.0} MB  peak {:.0} MB  cpu {:.2} s   [{}]",
            self.name,
            self.delivered,
            self.expected,
            self.lost,
            self.duplicated,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.worst_window_p99_ms,
            self.rss_start(),
            self.rss_end(),
            self.hwm_mb,
            self.cpu,
            self.emit
        );
        for w in &self.windows {
            println!(
                "  {:<10} window {:>5.0}-{:<5.0} s  deliveries {:>8}  p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
                self.name,
                w.from,
                w.from + window_secs,
                w.deliveries,
                w.p50_ms,
                w.p99_ms,
                w.max_ms
            );
        }
        let series = |f: &dyn Fn(&Sample) -> String| self.samples.iter().map(f).collect::<Vec<_>>().join(" ");
        println!(
            "  {:<10} samples at s: {}",
            self.name,
            series(&|s| format!("{:.0}", s.at))
        );
        println!(
            "  {:<10} rss MB:       {}",
            self.name,
            series(&|s| format!("{:.0}", s.rss_mb))
        );
        println!(
            "  {:<10} cpu s:        {}",
            self.name,
            series(&|s| format!("{:.1}", s.cpu))
        );
        println!(
            "  {:<10} delivered:    {}",
            self.name,
            series(&|s| s.delivered.to_string())
        );
    }
}

/// Deliveries expected by a client of room `room` (0-based): the events
/// `n < events` with `n % rooms == room`.
fn expected_for(room: u64, rooms: u64, events: u64) -> u64 {
    if room >= events {
        0
    } else {
        (events - room).div_ceil(rooms)
    }
}

async fn run_soak(args: &Args, stack: &Stack, events: u64) -> SoakReport {
    let (mut server, url) = start_server(args, stack);
    let windows = Arc::new(Windows {
        origin: AtomicU64::new(u64::MAX),
        width_us: (args.window_secs * 1e6).max(1.0) as u64,
        hists: Mutex::default(),
        delivered: AtomicU64::new(0),
        stray: AtomicU64::new(0),
    });
    // Per client, how often it got the k-th event of its room (`seq / rooms`).
    let per_room = events.div_ceil(args.rooms) as usize;
    let counts: Vec<Arc<Mutex<Vec<u8>>>> = (0..args.clients)
        .map(|_| Arc::new(Mutex::new(vec![0; per_room])))
        .collect();
    let rooms = args.rooms;
    let clients = join_all(args, stack, &mut server, &url, |i| {
        let (counts, windows) = (counts[i].clone(), windows.clone());
        let room = i as u64 % rooms;
        move |seq: u64, sent, received| {
            windows.delivered.fetch_add(1, Ordering::Relaxed);
            windows.record(sent, received);
            let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
            match counts.get_mut((seq / rooms) as usize) {
                Some(c) if seq % rooms == room => *c = c.saturating_add(1),
                _ => {
                    windows.stray.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    })
    .await;
    let expected: u64 = (0..args.clients)
        .map(|i| expected_for(i % rooms, rooms, events))
        .sum();

    let pid = server.id();
    let (_, cpu_before) = usage(pid);
    let started = Instant::now();
    let sample = |windows: &Windows| {
        let (_, cpu) = usage(pid);
        Sample {
            at: started.elapsed().as_secs_f64(),
            rss_mb: rss_kb(pid) as f64 / 1024.0,
            cpu: cpu - cpu_before,
            delivered: windows.delivered.load(Ordering::Relaxed),
        }
    };
    let mut samples = vec![sample(&windows)];
    let mut next_sample = args.sample_secs;
    windows.origin.store(now_us(), Ordering::SeqCst);
    let emit_env = [
        ("REDIS_SOCKETIO_URL", args.redis.clone()),
        ("EVENTS", events.to_string()),
        ("ROOMS", args.rooms.to_string()),
        ("ROOM_BASE", "1".to_string()),
        ("EMIT_RATE", args.rate.to_string()),
    ];
    let mut emitter = shell(&stack.emitter, &emit_env, std::process::Stdio::piped());
    let mut tick = |samples: &mut Vec<Sample>| {
        if started.elapsed().as_secs_f64() >= next_sample {
            samples.push(sample(&windows));
            next_sample += args.sample_secs;
        }
    };
    while emitter.try_wait().expect("emitter status").is_none() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        tick(&mut samples);
    }
    let emit = super::emit_summary(emitter.wait_with_output().expect("emitter output"));
    // Wait until everything arrived, or nothing more arrives for 3 s.
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        tick(&mut samples);
        let now = windows.delivered.load(Ordering::Relaxed);
        if now != last {
            (last, last_change) = (now, Instant::now());
        }
        if now >= expected || last_change.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    samples.push(sample(&windows));
    let (hwm_kb, cpu_after) = usage(pid);
    drop(clients);
    let _ = server.kill();
    let _ = server.wait();

    let (mut unique, mut duplicated) = (0u64, windows.stray.load(Ordering::Relaxed));
    for c in &counts {
        for &n in c.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            unique += u64::from(n > 0);
            duplicated += u64::from(n.saturating_sub(1));
        }
    }
    let hists = windows.hists.lock().unwrap_or_else(|e| e.into_inner());
    let mut all = histogram();
    let ms = |us: u64| us as f64 / 1000.0;
    let mut window_reports = Vec::new();
    for (k, h) in hists.iter().enumerate() {
        all.add(h).expect("same bounds");
        window_reports.push(WindowReport {
            from: k as f64 * args.window_secs,
            deliveries: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        });
    }
    SoakReport {
        name: stack.name.clone(),
        delivered: all.len(),
        expected,
        lost: expected.saturating_sub(unique),
        duplicated,
        p50_ms: ms(all.value_at_quantile(0.50)),
        p99_ms: ms(all.value_at_quantile(0.99)),
        max_ms: ms(all.max()),
        worst_window_p99_ms: window_reports.iter().map(|w| w.p99_ms).fold(0.0, f64::max),
        windows: window_reports,
        samples,
        hwm_mb: hwm_kb as f64 / 1024.0,
        cpu: cpu_after - cpu_before,
        emit,
    }
}

pub(super) async fn run(args: &Args) {
    assert!(args.rate > 0.0, "the soak needs --rate");
    let events = (args.rate * args.duration).round() as u64;
    println!(
        "shape: soak, {} clients in {} rooms, {} events/s for {} s ({events} events, {:.0} deliveries/s), \
         RSS every {} s, latency per {} s",
        args.clients,
        args.rooms,
        args.rate,
        args.duration,
        args.rate * args.clients as f64 / args.rooms.min(args.clients).max(1) as f64,
        args.sample_secs,
        args.window_secs
    );
    let n = args.stacks.len();
    let mut runs: Vec<Vec<SoakReport>> = (0..n).map(|_| Vec::new()).collect();
    for round in 0..args.repeat.max(1) {
        for k in 0..n {
            let i = (k + round) % n;
            let report = run_soak(args, &args.stacks[i], events).await;
            report.print(&format!("run {}", round + 1), args.window_secs);
            runs[i].push(report);
        }
    }
    let med = |i: usize, f: &dyn Fn(&SoakReport) -> f64| median(runs[i].iter().map(f).collect());
    for (i, stack) in args.stacks.iter().enumerate() {
        let lost: u64 = runs[i].iter().map(|r| r.lost).sum();
        let dup: u64 = runs[i].iter().map(|r| r.duplicated).sum();
        println!(
            "median {:<10} of {} runs: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  worst window p99 {:.2} ms  \
             rss start {:.0} MB  end {:.0} MB  peak {:.0} MB  cpu {:.2} s  lost {lost}  dup {dup}",
            stack.name,
            runs[i].len(),
            med(i, &|r| r.p50_ms),
            med(i, &|r| r.p99_ms),
            med(i, &|r| r.max_ms),
            med(i, &|r| r.worst_window_p99_ms),
            med(i, &SoakReport::rss_start),
            med(i, &SoakReport::rss_end),
            med(i, &|r| r.hwm_mb),
            med(i, &|r| r.cpu),
        );
    }
}
