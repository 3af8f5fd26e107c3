//! What history costs a broadcast, and how long a resume takes: events per
//! second to a room that keeps history against one that does not, side by
//! side in one process (the same clients, resumable, in both), and the time
//! from a client's reconnect to its `fa_resumed` after it missed MISSED
//! events. On the in-process adapter, or with REDIS_URL on Redis, where it
//! also reports the Redis memory each kept event takes.
//!
//! Env: MEMBERS (10) clients per room, EVENTS (20000) events per round,
//! ROUNDS (5) rounds of each kind, alternating; MISSED (1000), RESUMES (5);
//! REDIS_URL (none: in-process).

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use fast_app::prelude::*;
use fast_app::{FA_RESUMED, FA_SESSION, RESUME_AUTH};
use fast_app_bench::{env_num, median};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketio_test_client::Client;

const NS: &str = "/resume-bench";
const WAIT: Duration = Duration::from_secs(60);

async fn authenticate(session: &Session, auth: &Value) -> Result<(), ConnectError> {
    session.identify(auth["token"].as_str().unwrap_or("anonymous"));
    Ok(())
}

#[namespace("/resume-bench", connect = authenticate)]
#[rooms(PlainRoom, KeptRoom)]
struct ResumeBench;

/// A room without history: `plain|<id>`.
#[derive(Clone, Room, Deserialize, JsonSchema)]
struct PlainRoom {
    id: u64,
}

/// The same room, keeping its last 1000 events: `kept|<id>`.
#[derive(Clone, Room, Deserialize, JsonSchema)]
#[room(history = 1000)]
struct KeptRoom {
    id: u64,
}

#[derive(Serialize, JsonSchema, BroadcastEvent)]
#[broadcast(on = PlainRoom { id: self.id })]
struct ToPlain {
    id: u64,
    seq: u64,
    text: &'static str,
}

#[derive(Serialize, JsonSchema, BroadcastEvent)]
#[broadcast(on = KeptRoom { id: self.id })]
struct ToKept {
    id: u64,
    seq: u64,
    text: &'static str,
}

const TEXT: &str = "a message of about the size of a chat line";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("resume-cost: {e}");
        std::process::exit(1);
    }
}

async fn connect(url: &str, auth: Value) -> Result<Client, Box<dyn std::error::Error>> {
    Ok(Client::builder(url).namespace(NS).auth(auth).connect().await?)
}

/// Waits for `count` events named `name` on `client`.
async fn receive(mut client: Client, name: &'static str, count: u64) -> Result<Client, String> {
    let mut seen = 0;
    while seen < count {
        let event = client.next_event(WAIT).await.map_err(|e| e.to_string())?;
        if event.name == name {
            seen += 1;
        }
    }
    Ok(client)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let members: u64 = env_num("MEMBERS", 10)?;
    let events: u64 = env_num("EVENTS", 20_000)?;
    let rounds: u64 = env_num("ROUNDS", 5)?;
    let missed: u64 = env_num("MISSED", 1000)?;
    let resumes: u64 = env_num("RESUMES", 5)?;
    // Room for a whole round in each connection's queue: the clients read
    // while it is sent, and nothing may be dropped.
    let redis = std::env::var("REDIS_URL").ok().filter(|url| !url.is_empty());
    let builder = Server::builder()
        .install_broadcaster(false)
        .max_buffer_size(2 * events as usize + 16);
    let server = match &redis {
        Some(url) => {
            let config = fast_app::redis::RedisConfig::new(url).with_prefix(PREFIX);
            builder.build_redis(&config).await?
        }
        None => builder.build().await?,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app: axum::Router = axum::Router::new().layer(server.layer());
    let serving = fast_app::serve(listener, app, &server).with_shutdown_signal(std::future::pending());
    tokio::spawn(serving.into_future());
    let broadcaster = server.broadcaster();

    // The same resumable clients in both rooms: they get the history room's
    // events with their positions, the plain room's without.
    let mut clients = Vec::new();
    for i in 0..members {
        let client = connect(&url, json!({ "token": format!("user-{i}"), RESUME_AUTH: {} })).await?;
        for key in ["plain", "kept"] {
            client
                .emit_with_ack(&format!("join_{key}"), json!({ "id": 1 }), WAIT)
                .await?;
        }
        clients.push(client);
    }
    println!(
        "{members} resumable clients in each room, {events} events per round, {rounds} rounds of each kind, {}",
        match &redis {
            Some(_) => "on Redis",
            None => "in process",
        }
    );

    let (mut plain, mut kept) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let kinds = match round % 2 {
            0 => [false, true],
            _ => [true, false],
        };
        for history in kinds {
            let name = if history { "to_kept" } else { "to_plain" };
            let readers: Vec<_> = clients
                .drain(..)
                .map(|client| tokio::spawn(receive(client, name, events)))
                .collect();
            let started = Instant::now();
            for seq in 0..events {
                let sent = match history {
                    true => {
                        broadcaster
                            .broadcast(&ToKept {
                                id: 1,
                                seq,
                                text: TEXT,
                            })
                            .await?
                    }
                    false => {
                        broadcaster
                            .broadcast(&ToPlain {
                                id: 1,
                                seq,
                                text: TEXT,
                            })
                            .await?
                    }
                };
                assert!(sent);
            }
            for reader in readers {
                clients.push(reader.await??);
            }
            let rate = events as f64 / started.elapsed().as_secs_f64();
            match history {
                true => kept.push(rate),
                false => plain.push(rate),
            }
        }
    }
    let (plain, kept) = (median(plain), median(kept));
    println!(
        "events/s to {members} clients, median: plain room {plain:.0}, room with history {kept:.0}; history/plain {:.2}",
        kept / plain
    );

    if let Some(url) = &redis {
        memory(url, "kept|1").await?;
    }

    // A client misses MISSED events, then resumes.
    let mut times = Vec::new();
    for round in 0..resumes {
        let id = 100 + round;
        let mut client = connect(&url, json!({ "token": "away", RESUME_AUTH: {} })).await?;
        let token = client.next_event(WAIT).await?;
        assert_eq!(token.name, FA_SESSION);
        let token = token.args[0]["token"].clone();
        let at = client
            .emit_with_ack("join_kept", json!({ "id": id }), WAIT)
            .await?;
        client.disconnect().await?;
        for seq in 0..missed {
            broadcaster.broadcast(&ToKept { id, seq, text: TEXT }).await?;
        }
        let rooms = json!([{ "key": "kept", "payload": { "id": id }, "epoch": at[0]["epoch"], "offset": at[0]["offset"] }]);
        let started = Instant::now();
        let back = connect(
            &url,
            json!({ "token": "away", RESUME_AUTH: { "token": token, "rooms": rooms } }),
        )
        .await?;
        let mut back = receive(back, "to_kept", missed).await?;
        let resumed = back.next_event(WAIT).await?;
        times.push(started.elapsed());
        assert_eq!(resumed.name, FA_RESUMED);
        assert_eq!(resumed.args[0]["rooms"][0]["recovered"], true);
    }
    times.sort();
    println!(
        "resume after {missed} missed events, from connect to fa_resumed: median {:.1} ms (min {:.1}, max {:.1}, {resumes} runs)",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
    Ok(())
}

/// The channel prefix of the Redis run.
const PREFIX: &str = "resume-bench";

/// The Redis memory of `room`'s log, per event kept.
async fn memory(url: &str, room: &str) -> Result<(), Box<dyn std::error::Error>> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let key = format!("{PREFIX}:history:{{{NS}}}:log:{room}");
    let entries: u64 = redis::cmd("XLEN").arg(&key).query_async(&mut conn).await?;
    let bytes: u64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(&key)
        .arg("SAMPLES")
        .arg(0)
        .query_async(&mut conn)
        .await?;
    println!(
        "redis memory of the room's log: {bytes} bytes for {entries} events, {:.0} bytes per event",
        bytes as f64 / entries.max(1) as f64
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
