//! What presence costs a join: joins per second into rooms that keep
//! presence against rooms that do not, side by side in one process, on the
//! in-process adapter or on Redis; and, on Redis, the memory a member takes.
//!
//! Env: CLIENTS (400) connections, ROOM_SIZE (10) members per room, ROUNDS
//! (5) rounds of each kind, alternating; REDIS_URL to run on Redis (its
//! keys go under a fresh prefix, deleted at the end).
//!
//! A plain join is done when its acknowledgement arrives; a presence join
//! when `presence_state` does (the store's work comes after the reply).
//! Then the latency of one client's joins, one at a time, into rooms where
//! ROOM_SIZE - 1 others already are.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use fast_app::prelude::*;
use fast_app::redis::RedisConfig;
use fast_app_bench::{env_num, median};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use socketio_test_client::Client;

const NS: &str = "/presence-bench";
const WAIT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct User(String);

async fn authenticate(session: &Session, auth: &Value) -> Result<(), ConnectError> {
    let token = auth["token"].as_str().unwrap_or("anonymous");
    session.insert(User(token.to_owned()));
    Ok(())
}

#[namespace("/presence-bench", connect = authenticate)]
#[rooms(PlainRoom, TeamRoom)]
struct PresenceBench;

/// A room without presence: `plain|<id>`.
#[derive(Clone, Room, Deserialize, JsonSchema)]
struct PlainRoom {
    id: u64,
}

/// The same room, keeping presence: `team|<id>`.
#[derive(Clone, Room, Deserialize, JsonSchema)]
#[room(presence = Self::member)]
struct TeamRoom {
    id: u64,
}

impl TeamRoom {
    async fn member(&self, session: &Session) -> Option<Member> {
        let User(name) = session.get::<User>()?;
        Some(Member::new(&name, json!({ "name": name })))
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("presence-joins: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let clients: u64 = env_num("CLIENTS", 400)?;
    let room_size: u64 = env_num("ROOM_SIZE", 10)?.max(1);
    let rounds: u64 = env_num("ROUNDS", 5)?;
    let redis = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty());
    let prefix = format!("presence-bench-{}", std::process::id());
    let builder = Server::builder().install_broadcaster(false);
    let server = match &redis {
        Some(url) => {
            builder
                .build_redis(&RedisConfig::new(url).with_prefix(&prefix))
                .await?
        }
        None => builder.build().await?,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app: axum::Router = axum::Router::new().layer(server.layer());
    // `fast_app::serve`, as an application serves (it sets TCP_NODELAY:
    // `axum::serve` does not, and a reply written right behind another
    // would wait for the client's delayed ACK).
    let serving = fast_app::serve(listener, app, &server).with_shutdown_signal(std::future::pending());
    tokio::spawn(serving.into_future());

    let mut sockets = Vec::new();
    for i in 0..clients {
        let client = Client::builder(&url)
            .namespace(NS)
            .auth(json!({ "token": format!("user-{i}") }))
            .connect()
            .await?;
        sockets.push(client);
    }
    println!(
        "{clients} connections, rooms of {room_size}, {rounds} rounds of each kind, {}",
        redis
            .as_deref()
            .map_or("in-process adapter".into(), |u| format!("Redis at {u}"))
    );

    let (mut plain, mut presence) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Fresh rooms every round; the kinds take turns going first.
        let base = round * clients;
        let kinds = match round % 2 {
            0 => [false, true],
            _ => [true, false],
        };
        for keeps in kinds {
            let started = Instant::now();
            sockets = join_all(sockets, keeps, base, room_size).await?;
            let rate = clients as f64 / started.elapsed().as_secs_f64();
            match keeps {
                true => presence.push(rate),
                false => plain.push(rate),
            }
        }
    }
    let (plain, presence) = (median(plain), median(presence));
    println!(
        "joins/s, median: plain {plain:.0}, presence {presence:.0}; presence/plain {:.2}",
        presence / plain
    );

    // Latency: one client's joins one after the other, each into a fresh
    // room where ROOM_SIZE - 1 others already are, the kinds alternating.
    let base = rounds * clients;
    let mut one = sockets.pop().ok_or("no client")?;
    let (mut plain, mut presence) = (Vec::new(), Vec::new());
    for n in 0..200 {
        let keeps = n % 2 == 1;
        let payload = json!({ "id": base + n / 2 });
        let event = if keeps { "join_team" } else { "join_plain" };
        // The others first, untimed.
        for other in sockets.iter_mut().take(room_size as usize - 1) {
            other.emit_with_ack(event, payload.clone(), WAIT).await?;
        }
        let started = Instant::now();
        one.emit_with_ack(event, payload, WAIT).await?;
        if keeps {
            one.next_event_named("presence_state", WAIT).await?;
        }
        let took = started.elapsed().as_secs_f64() * 1e6;
        match keeps {
            true => presence.push(took),
            false => plain.push(took),
        }
        while one.next_event(Duration::ZERO).await.is_ok() {}
        for other in sockets.iter_mut().take(room_size as usize - 1) {
            while other.next_event(Duration::ZERO).await.is_ok() {}
        }
    }
    println!(
        "join latency, µs (p50 / p99 of 100 each): plain {:.0} / {:.0}, presence {:.0} / {:.0}",
        percentile(&mut plain, 0.5),
        percentile(&mut plain, 0.99),
        percentile(&mut presence, 0.5),
        percentile(&mut presence, 0.99)
    );

    if let Some(url) = &redis {
        let bytes = memory(
            url,
            &prefix,
            rounds.saturating_sub(1) * clients,
            clients,
            room_size,
        )?;
        println!(
            "redis memory of the last round's presence rooms: {bytes} bytes, {:.0} bytes per member",
            bytes as f64 / clients as f64
        );
        redis_cli(url, &["EVAL", CLEAN, "0", &format!("{prefix}:*")])?;
    }
    Ok(())
}

/// Every client joins room `base + i / room_size` at once; done when each
/// is (see the module's documentation).
async fn join_all(
    sockets: Vec<Client>,
    presence: bool,
    base: u64,
    room_size: u64,
) -> Result<Vec<Client>, Box<dyn std::error::Error>> {
    let joins = sockets.into_iter().enumerate().map(|(i, mut client)| async move {
        let payload = json!({ "id": base + i as u64 / room_size });
        let event = if presence { "join_team" } else { "join_plain" };
        client.emit_with_ack(event, payload, WAIT).await?;
        if presence {
            client.next_event_named("presence_state", WAIT).await?;
        }
        // Drop what the join left queued (`joined`, others' `presence_join`).
        while client.next_event(Duration::ZERO).await.is_ok() {}
        Ok::<_, socketio_test_client::ClientError>(client)
    });
    let mut out = Vec::new();
    for client in futures_util::future::join_all(joins).await {
        out.push(client?);
    }
    Ok(out)
}

fn percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let index = ((values.len() as f64 - 1.0) * q).round() as usize;
    values.get(index).copied().unwrap_or(0.0)
}

/// `MEMORY USAGE` of the presence rooms of one round, summed.
fn memory(url: &str, prefix: &str, base: u64, clients: u64, room_size: u64) -> Result<u64, String> {
    let mut total = 0;
    for room in base..base + clients.div_ceil(room_size) {
        let key = format!("{prefix}:presence:{NS}#team|{room}");
        total += redis_cli(url, &["MEMORY", "USAGE", &key])?
            .trim()
            .parse::<u64>()
            .unwrap_or(0);
    }
    Ok(total)
}

/// Deletes every key matching `ARGV[1]`.
const CLEAN: &str = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 0";

fn redis_cli(url: &str, args: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new("redis-cli")
        .args(["-u", url])
        .args(args)
        .output()
        .map_err(|e| format!("redis-cli: {e}"))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
