//! fast-app's emitter for the fan-out contract: `broadcast(&UpdateChat)`
//! through the publish-only Redis emitter, as a background job would.
//! Env: EVENTS, ROOMS (required), ROOM_BASE (1), EMIT_RATE (events/s; 0 =
//! as fast as possible), EMIT_CONCURRENCY (32 broadcasts in flight).

use std::time::{Duration, Instant};

use fast_app::Broadcaster;
use fast_app::redis::RedisConfig;
use fast_app_bench::{UpdateChat, env_num, now_us};
use futures_util::StreamExt;

fn main() {
    // One thread, like the reference emitter: a job that only publishes
    // gains nothing from a thread pool but cross-thread wake-ups.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("fast-app fanout-emitter: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let events: u64 = env_num("EVENTS", 0)?;
    let rooms: u64 = env_num("ROOMS", 0)?;
    if events == 0 || rooms == 0 {
        return Err("EVENTS and ROOMS are required".into());
    }
    let base: i64 = env_num("ROOM_BASE", 1)?;
    let rate: f64 = env_num("EMIT_RATE", 0.0)?;
    let concurrency: usize = env_num("EMIT_CONCURRENCY", 32)?;
    let broadcaster = Broadcaster::redis_emitter(&RedisConfig::from_env()).await?;

    let cpu_start = self_cpu_seconds();
    let start = Instant::now();
    let sends = futures_util::stream::iter(0..events).map(|seq| {
        let broadcaster = broadcaster.clone();
        async move {
            if rate > 0.0 {
                let due = start + Duration::from_secs_f64(seq as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
            }
            let event = UpdateChat {
                chat_id: base + (seq % rooms) as i64,
                seq,
                t: now_us(),
            };
            broadcaster.broadcast(&event).await
        }
    });
    let mut failed = 0u64;
    let mut results = sends.buffer_unordered(concurrency.max(1));
    while let Some(result) = results.next().await {
        if result.is_err() {
            failed += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "EMIT impl=fast-app events={events} seconds={secs:.3} rate={:.0} failed={failed} cpu_s={:.3}",
        events as f64 / secs,
        self_cpu_seconds() - cpu_start
    );
    Ok(())
}

/// CPU seconds this process has used, over all its threads (/proc schedstat).
fn self_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    nanos as f64 / 1e9
}
