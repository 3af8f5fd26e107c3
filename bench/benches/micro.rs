//! Micro-benchmarks: what fast-app's generated code costs over socketioxide
//! driven by hand, on real servers with real Socket.IO clients (`socketio-test-client`) on loopback.
//!
//! - `broadcast/*`: one event to one room of 10 connected clients (100
//!   clients in 10 rooms), through `Broadcaster::broadcast` and the derived
//!   `BroadcastEvent`, against `io.of("/").to(room).emit(..)` with the same
//!   payload. Only the emits are timed: after every chunk the clock stops
//!   until the clients have received everything, so no queue overflows and
//!   both paths do the same work. Everything runs on one thread (see
//!   [`runtime`]).
//! - `join/*`: a client's `join_chat` until its `joined` reply, through the
//!   generated join handler (deserialize the room, join, reply) against a
//!   hand-written socketioxide handler doing the same.
//!
//! Run: `cargo bench -p fast-app-bench --bench micro`; `bash bench/emit-cost.sh`
//! counts the instructions of the same two broadcast paths (callgrind).

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use fast_app::socketioxide::SocketIo;
use fast_app::socketioxide::adapter::LocalAdapter;
use fast_app::socketioxide::extract::{SocketRef, TryData};
use fast_app::socketioxide::handler::ConnectHandler;
use fast_app_bench::emits::{
    ROOMS, audience, derive_chunk, fast_app_server, hand_chunk, join, joined_client, runtime, serve,
    timed_emits,
};
use serde::Deserialize;
use serde_json::json;

fn broadcast(c: &mut Criterion) {
    let rt = runtime();
    let (broadcaster, io, audience) = rt.block_on(async {
        let (server, url) = fast_app_server().await;
        let audience = audience(&url).await;
        (
            server.broadcaster().clone(),
            server.io::<LocalAdapter>().expect("in-process server").clone(),
            audience,
        )
    });
    let mut group = c.benchmark_group("broadcast");
    group.bench_function("derive", |b| {
        b.iter_custom(|iters| {
            rt.block_on(timed_emits(iters, &audience.received, |seqs| {
                derive_chunk(&broadcaster, seqs)
            }))
        })
    });
    group.bench_function("hand_written", |b| {
        b.iter_custom(|iters| {
            rt.block_on(timed_emits(iters, &audience.received, |seqs| {
                hand_chunk(&io, seqs)
            }))
        })
    });
    group.finish();
}

#[derive(Deserialize)]
struct JoinChat {
    chat_id: i64,
}

/// The contract's `join_chat`, written by hand on socketioxide: the handler
/// is registered in a connect middleware (like fast-app's) so that a join
/// right behind the connection is never missed.
async fn register_join(socket: SocketRef) -> Result<(), std::convert::Infallible> {
    socket.on("join_chat", on_join_chat);
    Ok(())
}

async fn on_join_chat(socket: SocketRef, TryData(join): TryData<JoinChat>) {
    match join {
        Ok(join) => {
            let room = format!("chat|{}", join.chat_id);
            socket.join(room.clone());
            let _ = socket.emit("joined", &json!({ "room": room }));
        }
        Err(e) => {
            let _ = socket.emit("error", &json!({ "message": e.to_string() }));
        }
    }
}

fn join_path(c: &mut Criterion) {
    let rt = runtime();
    let (_server, _io, mut derived, mut hand) = rt.block_on(async {
        let (server, derived_url) = fast_app_server().await;
        let (layer, io) = SocketIo::new_layer();
        io.ns("/", (async || {}).with(register_join));
        let hand_url = serve(axum::Router::new().layer(layer)).await;
        let derived = joined_client(&derived_url, 1).await;
        let hand = joined_client(&hand_url, 1).await;
        (server, io, derived, hand)
    });
    let mut group = c.benchmark_group("join");
    for (name, client) in [("derive", &mut derived), ("hand_written", &mut hand)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        join(client, 1 + i % ROOMS).await;
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, broadcast, join_path);
criterion_main!(benches);
