//! Resume on the in-process adapter: a connection that comes back gets what
//! its rooms were sent while it was away, once and in order, and is back in
//! them, its guards checked again. The same with socket.io-client:
//! `interop/js/resume.test.mjs`.

mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use common::{QUIET, WAIT};
use fast_app::prelude::*;
use fast_app::{FA_RESUMED, FA_SESSION, RESUME_AUTH, Server};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketio_test_client::{Client, Event};

async fn authenticate(session: &Session, auth: &Value) -> Result<(), ConnectError> {
    let user = auth["token"].as_str().filter(|t| !t.is_empty());
    let user = user.ok_or(ConnectError::new("No access token provided"))?;
    session.identify(user);
    Ok(())
}

#[namespace("/", connect = authenticate)]
#[rooms(NewsRoom, LobbyRoom, WireRoom)]
struct GlobalNamespace;

/// `news|<topic>`: keeps its last 3 events; `closed` is refused.
#[derive(Room, Deserialize, JsonSchema)]
#[room(history = 3, can_join = Self::open)]
struct NewsRoom {
    topic: String,
}

impl NewsRoom {
    async fn open(&self, _: &Session) -> bool {
        self.topic != "closed"
    }
}

/// A room without history.
#[derive(Room, Deserialize, JsonSchema)]
struct LobbyRoom;

/// `wire|<topic>`: keeps its last 100 events.
#[derive(Room, Deserialize, JsonSchema)]
#[room(history = 100)]
struct WireRoom {
    topic: String,
}

#[derive(Serialize, JsonSchema, BroadcastEvent)]
#[broadcast(on = WireRoom { topic: self.topic.clone() })]
struct Bulletin {
    topic: String,
    n: u32,
}

async fn bulletins(server: &Server, topic: &str, n: std::ops::RangeInclusive<u32>) {
    let topic = topic.to_owned();
    send_all(
        server,
        n.map(|n| Bulletin {
            topic: topic.clone(),
            n,
        }),
    )
    .await;
}

/// Broadcasts each of `events` through `server`, one after the other.
async fn send_all<E: BroadcastEvent>(server: &Server, events: impl IntoIterator<Item = E>) {
    for event in events {
        assert!(server.broadcaster().broadcast(&event).await.unwrap());
    }
}

#[derive(Serialize, JsonSchema, BroadcastEvent)]
#[broadcast(on = NewsRoom { topic: self.topic.clone() })]
struct Headline {
    topic: String,
    n: u32,
}

async fn start() -> (String, Server) {
    let server = common::build(Server::builder()).await;
    let url = common::serve_on_loopback(axum::Router::new().layer(server.layer())).await;
    (url, server)
}

async fn connect(url: &str, auth: Value) -> Client {
    Client::builder(url).auth(auth).connect().await.expect("connects")
}

async fn next(client: &mut Client) -> Event {
    client.next_event(WAIT).await.expect("an event")
}

/// A resumable connection of `user` and its token.
async fn resumable(url: &str, user: &str) -> (Client, String) {
    let mut client = connect(url, json!({ "token": user, RESUME_AUTH: {} })).await;
    let event = next(&mut client).await;
    assert_eq!(event.name, FA_SESSION);
    let token = event.args[0]["token"].as_str().expect("a token").to_owned();
    (client, token)
}

/// Joins `news|<topic>`; its position from the acknowledgement.
async fn join_news(client: &mut Client, topic: &str) -> Value {
    let ack = client
        .emit_with_ack("join_news", json!({ "topic": topic }), WAIT)
        .await
        .expect("acknowledged");
    assert_eq!(next(client).await.name, "joined");
    ack[0].clone()
}

async fn headlines(server: &Server, topic: &str, n: std::ops::RangeInclusive<u32>) {
    let topic = topic.to_owned();
    send_all(
        server,
        n.map(|n| Headline {
            topic: topic.clone(),
            n,
        }),
    )
    .await;
}

/// The `n` of the next `headline`, and its offset in `room`.
async fn headline(client: &mut Client, room: &str) -> (u64, u64) {
    let event = next(client).await;
    assert_eq!(event.name, "headline", "{event:?}");
    assert_eq!(event.args.len(), 2, "the payload, then the positions: {event:?}");
    let n = event.args[0]["n"].as_u64().unwrap();
    (n, event.args[1]["fa_offsets"][room]["offset"].as_u64().unwrap())
}

fn resume_auth(user: &str, token: &str, rooms: Value) -> Value {
    json!({ "token": user, RESUME_AUTH: { "token": token, "rooms": rooms } })
}

#[tokio::test]
async fn a_resumed_connection_gets_what_it_missed_once_in_order_and_is_back_in_its_room() {
    let (url, server) = start().await;
    let (mut alice, token) = resumable(&url, "alice").await;
    let at = join_news(&mut alice, "rust").await;
    assert_eq!(at["room"], "news|rust");
    assert_eq!(at["offset"], 0, "a joiner has seen nothing: {at}");
    headlines(&server, "rust", 1..=1).await;
    assert_eq!(headline(&mut alice, "news|rust").await, (1, 1));
    alice.disconnect().await.unwrap();

    headlines(&server, "rust", 2..=3).await;
    let rooms = json!([{ "key": "news", "payload": { "topic": "rust" }, "epoch": at["epoch"], "offset": 1 }]);
    let mut back = connect(&url, resume_auth("alice", &token, rooms)).await;
    assert_eq!(headline(&mut back, "news|rust").await, (2, 2));
    assert_eq!(headline(&mut back, "news|rust").await, (3, 3));
    let resumed = next(&mut back).await;
    assert_eq!(resumed.name, FA_RESUMED);
    assert_eq!(
        resumed.args[0],
        json!({ "rooms": [{ "room": "news|rust", "key": "news", "recovered": true }] })
    );
    assert_eq!(next(&mut back).await.name, FA_SESSION, "a new token");
    // In the room again without a join.
    headlines(&server, "rust", 4..=4).await;
    assert_eq!(headline(&mut back, "news|rust").await, (4, 4));
}

#[tokio::test]
async fn more_missed_than_a_room_keeps_is_not_recovered() {
    let (url, server) = start().await;
    let (mut alice, token) = resumable(&url, "alice").await;
    let at = join_news(&mut alice, "go").await;
    alice.disconnect().await.unwrap();
    headlines(&server, "go", 1..=4).await; // the room keeps 3
    let rooms = json!([{ "key": "news", "payload": { "topic": "go" }, "epoch": at["epoch"], "offset": 0 }]);
    let mut back = connect(&url, resume_auth("alice", &token, rooms)).await;
    let resumed = next(&mut back).await;
    assert_eq!(resumed.name, FA_RESUMED, "no partial replay: {resumed:?}");
    assert_eq!(resumed.args[0]["rooms"][0]["recovered"], false);
    // Still back in the room: what follows arrives.
    assert_eq!(next(&mut back).await.name, FA_SESSION);
    headlines(&server, "go", 5..=5).await;
    assert_eq!(headline(&mut back, "news|go").await, (5, 5));
}

#[tokio::test]
async fn a_token_of_another_user_restores_nothing() {
    let (url, server) = start().await;
    let (mut alice, token) = resumable(&url, "alice").await;
    let at = join_news(&mut alice, "secret").await;
    alice.disconnect().await.unwrap();
    headlines(&server, "secret", 1..=1).await;
    let rooms =
        json!([{ "key": "news", "payload": { "topic": "secret" }, "epoch": at["epoch"], "offset": 0 }]);
    let mut mallory = connect(&url, resume_auth("mallory", &token, rooms)).await;
    let resumed = next(&mut mallory).await;
    assert_eq!(resumed.name, FA_RESUMED);
    assert_eq!(resumed.args[0]["rooms"], json!([]));
    assert!(
        resumed.args[0]["error"]
            .as_str()
            .unwrap()
            .contains("another user"),
        "{resumed:?}"
    );
    assert_eq!(next(&mut mallory).await.name, FA_SESSION);
    headlines(&server, "secret", 2..=2).await;
    mallory.expect_silence(QUIET).await.expect("not in the room");

    // A forged token, the same.
    let mut forged = connect(&url, resume_auth("alice", "00.00", json!([]))).await;
    let resumed = next(&mut forged).await;
    assert!(
        resumed.args[0]["error"].as_str().unwrap().contains("not signed"),
        "{resumed:?}"
    );
}

#[tokio::test]
async fn a_room_whose_guard_refuses_is_not_restored_and_the_others_are() {
    let (url, server) = start().await;
    let (mut alice, token) = resumable(&url, "alice").await;
    let at = join_news(&mut alice, "rust").await;
    alice.disconnect().await.unwrap();
    let rooms = json!([
        { "key": "news", "payload": { "topic": "closed" }, "epoch": at["epoch"], "offset": 0 },
        { "key": "nope", "payload": {} },
        { "key": "news", "payload": { "topic": "rust" }, "epoch": at["epoch"], "offset": 0 },
    ]);
    let mut back = connect(&url, resume_auth("alice", &token, rooms)).await;
    let resumed = next(&mut back).await;
    let rooms = &resumed.args[0]["rooms"];
    assert_eq!(
        rooms[0]["error"],
        json!({ "type": "forbidden", "room": "news|closed" })
    );
    assert_eq!(rooms[1]["error"]["type"], "validation_error");
    assert_eq!(
        rooms[2],
        json!({ "room": "news|rust", "key": "news", "recovered": true })
    );
    assert_eq!(next(&mut back).await.name, FA_SESSION);
    headlines(&server, "closed", 1..=1).await;
    headlines(&server, "rust", 1..=1).await;
    assert_eq!(
        headline(&mut back, "news|rust").await,
        (1, 1),
        "only the restored room"
    );
}

#[tokio::test]
async fn plain_connections_are_unchanged() {
    let (url, server) = start().await;
    let mut plain = connect(&url, json!({ "token": "bob" })).await;
    let ack = plain
        .emit_with_ack("join_news", json!({ "topic": "rust" }), WAIT)
        .await
        .unwrap();
    assert_eq!(ack[0], json!({ "room": "news|rust" }), "no position");
    assert_eq!(next(&mut plain).await.name, "joined");
    headlines(&server, "rust", 1..=1).await;
    let event = next(&mut plain).await;
    assert_eq!(event.args, [json!({ "topic": "rust", "n": 1 })], "one argument");

    // A resumable connection in a room without history: events as before.
    let (carol, _) = resumable(&url, "carol").await;
    let ack = carol.emit_with_ack("join_lobby", json!({}), WAIT).await.unwrap();
    assert_eq!(ack[0], json!({ "room": "lobby" }));
}

/// A Redis-mode server on a loopback port, on `redis` with `prefix`.
async fn start_on(redis: &redis_server::RedisServer, prefix: &str) -> (String, Server) {
    let config = fast_app::redis::RedisConfig::new(redis.url())
        .with_prefix(prefix)
        .with_timeout(std::time::Duration::from_secs(1));
    let server = Server::builder()
        .install_broadcaster(false)
        .build_redis(&config)
        .await
        .expect("redis-mode server builds");
    let url = common::serve_on_loopback(axum::Router::new().layer(server.layer())).await;
    (url, server)
}

/// A plain connection in `wire|<topic>`.
async fn plain_reader(url: &str, topic: &str) -> Client {
    let mut client = connect(url, json!({ "token": "reader" })).await;
    let ack = client
        .emit_with_ack("join_wire", json!({ "topic": topic }), WAIT)
        .await
        .unwrap();
    assert_eq!(ack[0]["room"], format!("wire|{topic}"));
    assert_eq!(next(&mut client).await.name, "joined");
    client
}

/// The `n` of the next event of a plain connection, a `bulletin`.
async fn bulletin(client: &mut Client) -> u64 {
    let event = next(client).await;
    assert_eq!(event.name, "bulletin", "{event:?}");
    assert_eq!(event.args.len(), 1, "the payload alone: {event:?}");
    event.args[0]["n"].as_u64().unwrap()
}

/// On Redis, history is shared: a client that was on one server resumes on
/// another with what it missed, and one that missed more than the room
/// keeps is told it was not recovered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_client_resumes_on_another_server_with_what_it_missed() {
    let redis = redis_server::RedisServer::start();
    let (url_a, a) = start_on(&redis, "resume-across").await;
    let (url_b, b) = start_on(&redis, "resume-across").await;
    let (mut alice, token) = resumable(&url_a, "alice").await;
    let at = join_news(&mut alice, "rust").await;
    assert_eq!(at["offset"], 0, "{at}");
    headlines(&a, "rust", 1..=1).await;
    assert_eq!(headline(&mut alice, "news|rust").await, (1, 1));
    alice.disconnect().await.unwrap();
    // Sent by both servers while alice is away.
    headlines(&a, "rust", 2..=2).await;
    headlines(&b, "rust", 3..=3).await;

    let from = json!([{ "key": "news", "payload": { "topic": "rust" }, "epoch": at["epoch"], "offset": 1 }]);
    let mut back = connect(&url_b, resume_auth("alice", &token, from)).await;
    assert_eq!(headline(&mut back, "news|rust").await, (2, 2));
    assert_eq!(headline(&mut back, "news|rust").await, (3, 3));
    let resumed = next(&mut back).await;
    assert_eq!(resumed.name, FA_RESUMED);
    assert_eq!(
        resumed.args[0],
        json!({ "rooms": [{ "room": "news|rust", "key": "news", "recovered": true }] })
    );
    assert_eq!(next(&mut back).await.name, FA_SESSION);
    headlines(&a, "rust", 4..=4).await;
    assert_eq!(
        headline(&mut back, "news|rust").await,
        (4, 4),
        "back in the room, once"
    );
    back.expect_silence(QUIET).await.expect("nothing twice");

    // Five missed, three kept: not recovered, and back in the room.
    back.disconnect().await.unwrap();
    headlines(&b, "rust", 5..=9).await;
    let from = json!([{ "key": "news", "payload": { "topic": "rust" }, "epoch": at["epoch"], "offset": 4 }]);
    let mut again = connect(&url_a, resume_auth("alice", &token, from)).await;
    let resumed = next(&mut again).await;
    assert_eq!(resumed.args[0]["rooms"][0]["recovered"], false, "{resumed:?}");
    assert_eq!(next(&mut again).await.name, FA_SESSION);
    headlines(&b, "rust", 10..=10).await;
    assert_eq!(headline(&mut again, "news|rust").await, (10, 10));
}

/// The loss Redis pub/sub has: a server whose connection is down while
/// another broadcasts. In a room with history, the server reads what it
/// missed back once it is subscribed again (up to what the room keeps):
/// everything acknowledged arrives, once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_server_that_subscribes_again_misses_nothing() {
    let redis = redis_server::RedisServer::start();
    let (_, a) = start_on(&redis, "resubscribe").await;
    let (url_b, _b) = start_on(&redis, "resubscribe").await;
    let mut reader = plain_reader(&url_b, "rust").await;
    bulletins(&a, "rust", 1..=1).await;
    assert_eq!(bulletin(&mut reader).await, 1);

    // B's connection is killed, and kept out (`maxclients`) while A sends.
    let mut control = redis.control();
    let subscribers = control.subscriber_ids();
    assert_eq!(subscribers.len(), 2, "one connection per server");
    assert_eq!(control.command(&["CONFIG", "SET", "maxclients", "1"]), "OK");
    let b_id = subscribers[1].to_string();
    assert_eq!(control.command(&["CLIENT", "KILL", "ID", &b_id]), "1");
    bulletins(&a, "rust", 2..=20).await;
    assert_eq!(control.command(&["CONFIG", "SET", "maxclients", "10000"]), "OK");

    for n in 2..=20 {
        assert_eq!(bulletin(&mut reader).await, n);
    }
    bulletins(&a, "rust", 21..=21).await;
    assert_eq!(bulletin(&mut reader).await, 21);
    reader.expect_silence(QUIET).await.expect("nothing twice");
}

/// Redis killed and started again, empty: what is sent while it is down
/// fails, in bounded time; what is acknowledged after reaches every server,
/// once, in order, whether or not the others are subscribed yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_restart_loses_nothing_acknowledged() {
    let mut redis = redis_server::RedisServer::start();
    let (_, a) = start_on(&redis, "restart").await;
    let (url_b, _b) = start_on(&redis, "restart").await;
    let mut reader = plain_reader(&url_b, "rust").await;
    bulletins(&a, "rust", 1..=1).await;
    assert_eq!(bulletin(&mut reader).await, 1);

    redis.stop();
    let bulletin_0 = Bulletin {
        topic: "rust".into(),
        n: 0,
    };
    let down = a.broadcaster().broadcast(&bulletin_0).await;
    assert!(down.is_err(), "not kept, so an error: {down:?}");
    redis.restart();
    let mut sent = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while sent.len() < 20 {
        assert!(std::time::Instant::now() < deadline, "A never sent again");
        let n = 100 + sent.len() as u32;
        let next_one = Bulletin {
            topic: "rust".into(),
            n,
        };
        match a.broadcaster().broadcast(&next_one).await {
            Ok(true) => sent.push(u64::from(n)),
            Ok(false) => unreachable!("the headline has a target"),
            // A reconnecting: not acknowledged, so not expected.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    for n in sent {
        assert_eq!(bulletin(&mut reader).await, n);
    }
    reader.expect_silence(QUIET).await.expect("nothing twice");
}
