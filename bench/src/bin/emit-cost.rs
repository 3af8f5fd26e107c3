//! The broadcast paths of the `micro` benchmark, for an instruction count:
//! one server with 100 Socket.IO test clients in 10 rooms, then N events
//! through the derive and N through a hand-written socketioxide emit,
//! alternating in chunks. Run under callgrind by `bench/emit-cost.sh`, which
//! reads the inclusive cost of `derive_chunk` and `hand_chunk`: the emits
//! only, each path's own work, the same deliveries. With `METRICS=1`, the
//! Prometheus recorder is installed first (`fast_app::metrics::install`), so
//! the derive's broadcasts are counted and timed.

use fast_app::socketioxide::adapter::LocalAdapter;
use fast_app_bench::emits::{
    CHUNK, audience, derive_chunk, fast_app_server, hand_chunk, runtime, timed_emits,
};

fn main() {
    let events: u64 = match std::env::args().nth(1).map(|n| n.parse()) {
        None => 5_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: emit-cost [EVENTS]: {e}");
            std::process::exit(2);
        }
    };
    let metrics = std::env::var("METRICS").is_ok_and(|v| v == "1");
    if metrics {
        fast_app::metrics::install().expect("the Prometheus recorder installs");
    }
    runtime().block_on(async {
        let (server, url) = fast_app_server().await;
        let audience = audience(&url).await;
        let (broadcaster, io) = (
            server.broadcaster(),
            server.io::<LocalAdapter>().expect("in-process server"),
        );
        let (mut derive, mut hand) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        let mut done = 0;
        while done < events {
            let size = CHUNK.min(events - done);
            derive += timed_emits(size, &audience.received, |seqs| derive_chunk(broadcaster, seqs)).await;
            hand += timed_emits(size, &audience.received, |seqs| hand_chunk(io, seqs)).await;
            done += size;
        }
        let per = |d: std::time::Duration| d.as_secs_f64() * 1e9 / events as f64;
        println!(
            "EMIT-COST events={events} metrics={metrics} derive_ns={:.0} hand_ns={:.0}",
            per(derive),
            per(hand)
        );
    });
}
