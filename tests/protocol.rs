//! The join/leave protocol, connect policy, hooks and delivery, with a real
//! Socket.IO client over loopback against a real server.

mod common;

use std::sync::Mutex;

use common::*;
use fast_app::prelude::*;
use fast_app::socketioxide::adapter::Adapter;
use fast_app::socketioxide::extract::{AckSender, Data, SocketRef};
use fast_app::socketioxide::socket::DisconnectReason;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketio_test_client::Client;

// ---- the application under test -------------------------------------------------

/// Every hook call, as "<what> <user> <room>".
static HOOKS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn hooked(line: &str) -> bool {
    HOOKS.lock().unwrap().iter().any(|l| l == line)
}

fn user(session: &Session) -> String {
    session.get::<User>().map(|u| u.0).unwrap_or_default()
}

async fn goodbye(session: &Session, _reason: DisconnectReason) {
    HOOKS
        .lock()
        .unwrap()
        .push(format!("disconnect {}", user(session)));
}

fn custom<A: Adapter>(socket: &SocketRef<A>) {
    socket.on(
        "echo",
        async |socket: SocketRef<A>, Data(data): Data<Value>, ack: AckSender<A>| {
            let session = socket.extensions.get::<Session>().expect("session stored");
            let _ = socket.emit("echoed", &json!({ "from": user(&session), "data": data }));
            let _ = ack.send(&"ok");
        },
    );
}

#[namespace("/", connect = authenticate, disconnect = goodbye, handlers = custom)]
#[rooms(ChatRoom, UserRoom, TeamRoom, LobbyRoom)]
struct GlobalNamespace;

#[derive(Debug, Clone, Room, Deserialize, JsonSchema)]
#[room(can_join = Self::allowed, on_join = Self::joined, on_leave = Self::left)]
struct ChatRoom {
    chat_id: u64,
}

impl ChatRoom {
    async fn allowed(&self, _session: &Session) -> bool {
        (1..=100).contains(&self.chat_id)
    }
    async fn joined(&self, session: &Session) {
        HOOKS
            .lock()
            .unwrap()
            .push(format!("join {} {}", user(session), self.name().unwrap()));
    }
    async fn left(&self, session: &Session) {
        HOOKS
            .lock()
            .unwrap()
            .push(format!("leave {} {}", user(session), self.name().unwrap()));
    }
}

#[derive(Debug, Clone, Room)]
#[room(extract = UserRoom::mine)]
struct UserRoom {
    name: String,
}

impl UserRoom {
    async fn mine(session: &Session, _payload: Value) -> Result<Self, ValidationError> {
        Ok(Self { name: user(session) })
    }
}

#[derive(Debug, Clone, Room, Deserialize, JsonSchema)]
#[room(key = "team")]
struct TeamRoom {
    org: String,
    team: u32,
}

#[derive(Debug, Clone, Room, Deserialize)]
struct LobbyRoom;

#[namespace("/admin", connect = admin_only)]
#[rooms(AuditRoom)]
struct AdminNamespace;

async fn admin_only(_session: &Session, auth: &Value) -> Result<(), String> {
    match auth.get("token").and_then(Value::as_str) {
        Some("root") => Ok(()),
        _ => Err("admins only".to_owned()),
    }
}

#[derive(Debug, Clone, Room, Deserialize, JsonSchema)]
struct AuditRoom {
    area: String,
}

/// Authenticates like an application that verifies the token remotely.
async fn slow_authenticate(session: &Session, auth: &Value) -> Result<(), ConnectError> {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    authenticate(session, auth).await
}

#[namespace("/race", connect = slow_authenticate)]
#[rooms(RaceRoom)]
struct RaceNamespace;

#[derive(Debug, Clone, Room, Deserialize, JsonSchema)]
struct RaceRoom {
    id: u64,
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = self.chats.iter().map(|&chat_id| ChatRoom { chat_id }).collect::<Vec<_>>(), rooms = [ChatRoom])]
struct ChatNews {
    chats: Vec<u64>,
    text: String,
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = AuditRoom { area: self.area.clone() })]
struct AuditLog {
    area: String,
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = UserRoom { name: self.to.clone() })]
struct Notify {
    to: String,
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = LobbyRoom)]
struct Announcement {
    text: String,
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(
    on = Targets::new().with(LobbyRoom).with(AuditRoom { area: self.area.clone() }),
    rooms = [LobbyRoom, AuditRoom],
)]
struct Everywhere {
    area: String,
}

#[derive(BroadcastEvent)]
#[broadcast(on = LobbyRoom, as = &self.map)]
struct Unserializable {
    map: std::collections::BTreeMap<(u8, u8), u8>,
}

// ---- connect -----------------------------------------------------------------------

#[tokio::test]
async fn a_client_without_a_token_is_refused_with_the_message() {
    let srv = TestServer::start().await;
    let refused = Client::builder(&srv.url).connect().await;
    assert_eq!(refusal(refused), "No access token provided");
    let refused = Client::builder(&srv.url)
        .auth(json!({ "token": "" }))
        .connect()
        .await;
    assert_eq!(refusal(refused), "No access token provided");
    let refused = Client::builder(&srv.url)
        .namespace("/admin")
        .auth(json!({ "token": "alice" }))
        .connect()
        .await;
    assert_eq!(refusal(refused), "admins only");
    // The server still serves everyone else.
    let mut ok = srv.client("conn-ok").await;
    join(&mut ok, "chat", json!({ "chat_id": 1 }), "chat|1").await;
}

// ---- join / leave ------------------------------------------------------------------------

#[tokio::test]
async fn join_answers_joined_with_the_room_and_acknowledges_the_same() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("join-alice").await;
    join(&mut alice, "chat", json!({ "chat_id": 7 }), "chat|7").await;
    let ack = alice
        .emit_with_ack("join_chat", json!({ "chat_id": 8 }), WAIT)
        .await
        .unwrap();
    assert_eq!(ack, [json!({ "room": "chat|8" })]);
    assert_eq!(expect(&mut alice, "joined").await, json!({ "room": "chat|8" }));
}

#[tokio::test]
async fn a_guard_saying_no_answers_forbidden_and_the_client_receives_nothing_of_the_room() {
    let srv = TestServer::start().await;
    let mut eve = srv.client("forbid-eve").await;
    let ack = eve
        .emit_with_ack("join_chat", json!({ "chat_id": 1000 }), WAIT)
        .await
        .unwrap();
    let forbidden = json!({ "type": "forbidden", "room": "chat|1000" });
    assert_eq!(ack, std::slice::from_ref(&forbidden));
    assert_eq!(expect(&mut eve, "error").await, forbidden);
    let news = ChatNews {
        chats: vec![1000],
        text: "secret".into(),
    };
    assert!(srv.server.broadcaster().broadcast(&news).await.unwrap());
    silent(&mut eve).await;
}

#[tokio::test]
async fn malformed_join_payloads_get_validation_errors_and_harm_no_one() {
    let srv = TestServer::start().await;
    let mut bad = srv.client("bad-payloads").await;
    let mut good = srv.client("bad-bystander").await;
    join(&mut good, "chat", json!({ "chat_id": 3 }), "chat|3").await;
    let cases = [
        json!({ "chat_id": "three" }),
        json!({ "chat_id": -1 }),
        json!({ "chat_id": 1.5 }),
        json!({}),
        json!("chat_id"),
        json!([1, 2]),
        json!(null),
        json!({ "chat_id": "x".repeat(50_000) }),
    ];
    for payload in cases {
        let ack = bad
            .emit_with_ack("join_chat", payload.clone(), WAIT)
            .await
            .unwrap();
        assert_eq!(ack.len(), 1, "payload {payload}");
        assert_eq!(ack[0]["type"], json!("validation_error"), "payload {payload}");
        assert!(
            ack[0]["msg"].as_str().is_some_and(|m| !m.is_empty()),
            "payload {payload}"
        );
        assert_eq!(expect(&mut bad, "error").await["type"], json!("validation_error"));
    }
    // A number past u64, written as the client would send it.
    bad.send_raw(r#"42["join_chat",{"chat_id":18446744073709551616}]"#)
        .await
        .unwrap();
    assert_eq!(expect(&mut bad, "error").await["type"], json!("validation_error"));
    // A join with no payload at all.
    bad.emit_args("join_chat", vec![]).await.unwrap();
    assert_eq!(expect(&mut bad, "error").await["type"], json!("validation_error"));
    // The bystander is unaffected and still receives its room's broadcasts.
    let news = ChatNews {
        chats: vec![3],
        text: "still here".into(),
    };
    srv.server.broadcaster().broadcast(&news).await.unwrap();
    assert_eq!(expect(&mut good, "chat_news").await["text"], json!("still here"));
    silent(&mut bad).await;
}

#[tokio::test]
async fn an_identifier_containing_the_separator_is_refused_not_aliased() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("sep-alice").await;
    alice
        .emit("join_team", json!({ "org": "a|1", "team": 2 }))
        .await
        .unwrap();
    let error = expect(&mut alice, "error").await;
    assert_eq!(error["type"], json!("validation_error"));
    assert!(error["msg"].as_str().unwrap().contains('|'), "{error}");
    join(&mut alice, "team", json!({ "org": "a", "team": 2 }), "team|a|2").await;
}

#[tokio::test]
async fn leave_answers_left_and_stops_delivery() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("leave-alice").await;
    join(&mut alice, "chat", json!({ "chat_id": 11 }), "chat|11").await;
    let ack = alice
        .emit_with_ack("leave_chat", json!({ "chat_id": 11 }), WAIT)
        .await
        .unwrap();
    assert_eq!(ack, [json!({ "room": "chat|11" })]);
    assert_eq!(expect(&mut alice, "left").await, json!({ "room": "chat|11" }));
    let news = ChatNews {
        chats: vec![11],
        text: "gone".into(),
    };
    srv.server.broadcaster().broadcast(&news).await.unwrap();
    silent(&mut alice).await;
    alice.emit("leave_chat", json!({ "chat_id": "x" })).await.unwrap();
    assert_eq!(
        expect(&mut alice, "error").await["type"],
        json!("validation_error")
    );
}

#[tokio::test]
async fn hooks_run_with_the_session_after_join_leave_and_disconnect() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("hook-alice").await;
    join(&mut alice, "chat", json!({ "chat_id": 21 }), "chat|21").await;
    assert!(hooked("join hook-alice chat|21"));
    alice.emit("leave_chat", json!({ "chat_id": 21 })).await.unwrap();
    expect(&mut alice, "left").await;
    assert!(hooked("leave hook-alice chat|21"));
    // A refused join runs no hook.
    alice.emit("join_chat", json!({ "chat_id": 999 })).await.unwrap();
    expect(&mut alice, "error").await;
    assert!(!hooked("join hook-alice chat|999"));
    alice.disconnect().await.unwrap();
    for _ in 0..50 {
        if hooked("disconnect hook-alice") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the disconnect hook did not run");
}

#[tokio::test]
async fn a_room_from_the_session_ignores_what_the_client_claims() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("extract-alice").await;
    let mut bob = srv.client("extract-bob").await;
    join(
        &mut alice,
        "user",
        json!({ "name": "extract-bob" }),
        "user|extract-alice",
    )
    .await;
    join(&mut bob, "user", json!({}), "user|extract-bob").await;
    let to_bob = Notify {
        to: "extract-bob".into(),
    };
    srv.server.broadcaster().broadcast(&to_bob).await.unwrap();
    assert_eq!(expect(&mut bob, "notify").await, json!({ "to": "extract-bob" }));
    silent(&mut alice).await;
}

#[tokio::test]
async fn a_unit_room_is_its_key() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("lobby-alice").await;
    join(&mut alice, "lobby", json!(null), "lobby").await;
    let event = Announcement { text: "hi".into() };
    srv.server.broadcaster().broadcast(&event).await.unwrap();
    assert_eq!(expect(&mut alice, "announcement").await, json!({ "text": "hi" }));
}

// ---- delivery ----------------------------------------------------------------------------

#[tokio::test]
async fn members_receive_a_broadcast_once_whatever_number_of_target_rooms_they_are_in() {
    let srv = TestServer::start().await;
    let mut both = srv.client("multi-both").await;
    let mut one = srv.client("multi-one").await;
    let mut none = srv.client("multi-none").await;
    join(&mut both, "chat", json!({ "chat_id": 31 }), "chat|31").await;
    join(&mut both, "chat", json!({ "chat_id": 32 }), "chat|32").await;
    join(&mut one, "chat", json!({ "chat_id": 32 }), "chat|32").await;
    join(&mut none, "chat", json!({ "chat_id": 33 }), "chat|33").await;
    let news = ChatNews {
        chats: vec![31, 32],
        text: "once".into(),
    };
    assert!(srv.server.broadcaster().broadcast(&news).await.unwrap());
    let payload = json!({ "chats": [31, 32], "text": "once" });
    assert_eq!(expect(&mut both, "chat_news").await, payload);
    assert_eq!(expect(&mut one, "chat_news").await, payload);
    silent(&mut both).await;
    silent(&mut one).await;
    silent(&mut none).await;
}

#[tokio::test]
async fn a_room_of_another_namespace_is_reached_there_only() {
    let srv = TestServer::start().await;
    let mut admin = srv.client_of("/admin", "root").await;
    let mut user = srv.client("ns-user").await;
    join(&mut admin, "audit", json!({ "area": "billing" }), "audit|billing").await;
    // `/` does not serve audit rooms: the request is ignored there.
    user.emit("join_audit", json!({ "area": "billing" }))
        .await
        .unwrap();
    silent(&mut user).await;
    srv.server
        .broadcaster()
        .broadcast(&AuditLog {
            area: "billing".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        expect(&mut admin, "audit_log").await,
        json!({ "area": "billing" })
    );
    silent(&mut user).await;
}

#[tokio::test]
async fn one_event_to_two_namespaces_reaches_both() {
    let srv = TestServer::start().await;
    let mut admin = srv.client_of("/admin", "root").await;
    let mut user = srv.client("everywhere-user").await;
    join(&mut admin, "audit", json!({ "area": "ops" }), "audit|ops").await;
    join(&mut user, "lobby", json!(null), "lobby").await;
    let event = Everywhere { area: "ops".into() };
    assert!(srv.server.broadcaster().broadcast(&event).await.unwrap());
    assert_eq!(expect(&mut admin, "everywhere").await, json!({ "area": "ops" }));
    assert_eq!(expect(&mut user, "everywhere").await, json!({ "area": "ops" }));
    silent(&mut admin).await;
    silent(&mut user).await;
}

#[tokio::test]
async fn a_payload_that_cannot_be_serialized_is_an_error_and_nothing_is_sent() {
    let srv = TestServer::start().await;
    let mut user = srv.client("unserializable-user").await;
    join(&mut user, "lobby", json!(null), "lobby").await;
    let event = Unserializable {
        map: [((1, 2), 3)].into(),
    };
    match srv.server.broadcaster().broadcast(&event).await {
        Err(fast_app::BroadcastError::Serialize { event, source }) => {
            assert_eq!(event, "unserializable");
            assert!(source.to_string().contains("key must be a string"), "{source}");
        }
        other => panic!("expected a serialization error, got {other:?}"),
    }
    silent(&mut user).await;
}

#[tokio::test]
async fn custom_handlers_see_the_session() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("custom-alice").await;
    let ack = alice.emit_with_ack("echo", json!(5), WAIT).await.unwrap();
    assert_eq!(ack, [json!("ok")]);
    assert_eq!(
        expect(&mut alice, "echoed").await,
        json!({ "from": "custom-alice", "data": 5 })
    );
}

// ---- robustness ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_emitted_the_instant_the_connection_opens_is_always_answered() {
    let srv = TestServer::start().await;
    for round in 0..20 {
        let clients = (0..50).map(|i| {
            let url = srv.url.clone();
            tokio::spawn(async move {
                // Written to the socket right behind the server's CONNECT ack,
                // possibly before socketioxide marks the socket connected.
                let mut client = Client::builder(&url)
                    .namespace("/race")
                    .auth(json!({ "token": format!("race-{round}-{i}") }))
                    .emit_on_connect("join_race", json!({ "id": i }))
                    .connect()
                    .await
                    .expect("connects");
                assert_eq!(
                    expect(&mut client, "joined").await,
                    json!({ "room": format!("race|{i}") })
                );
            })
        });
        for task in futures_util::future::join_all(clients).await {
            task.expect("every client's first join is answered");
        }
    }
}

#[tokio::test]
async fn unknown_events_are_ignored_and_the_socket_keeps_working() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("unknown-alice").await;
    alice.emit("no_such_event", json!({ "x": 1 })).await.unwrap();
    alice.emit("join_nothing", json!({})).await.unwrap();
    silent(&mut alice).await;
    join(&mut alice, "chat", json!({ "chat_id": 5 }), "chat|5").await;
}

#[tokio::test]
async fn a_flood_of_joins_is_answered_in_full_and_others_are_not_held_up() {
    let srv = TestServer::start().await;
    let mut flood = srv.client("flood").await;
    let mut other = srv.client("flood-other").await;
    const N: u64 = 2000;
    for i in 0..N {
        flood
            .emit("join_chat", json!({ "chat_id": 1 + i % 200 }))
            .await
            .unwrap();
    }
    join(&mut other, "chat", json!({ "chat_id": 1 }), "chat|1").await;
    let (mut joined, mut errors) = (0, 0);
    for _ in 0..N {
        match flood
            .next_event(WAIT)
            .await
            .expect("every join answered")
            .name
            .as_str()
        {
            "joined" => joined += 1,
            "error" => errors += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        (joined, errors),
        (1000, 1000),
        "ids 1..=100 allowed, 101..=200 forbidden"
    );
}

#[tokio::test]
async fn garbage_frames_do_not_disturb_other_clients() {
    let srv = TestServer::start().await;
    let mut other = srv.client("garbage-other").await;
    for frame in [
        "42[\"join_chat\",not json",
        "4",
        "42",
        "43[]",
        "49{}",
        "2probe",
        "x",
    ] {
        let garbage = srv.client("garbage").await;
        let _ = garbage.send_raw(frame).await;
    }
    let payload_too_big = srv.client("garbage-big").await;
    let _ = payload_too_big
        .emit("join_chat", json!({ "chat_id": "y".repeat(200_000) }))
        .await;
    join(&mut other, "chat", json!({ "chat_id": 2 }), "chat|2").await;
    let news = ChatNews {
        chats: vec![2],
        text: "fine".into(),
    };
    srv.server.broadcaster().broadcast(&news).await.unwrap();
    assert_eq!(expect(&mut other, "chat_news").await["text"], json!("fine"));
}

#[tokio::test]
async fn the_server_mounts_every_registered_namespace() {
    let srv = TestServer::start().await;
    let paths: Vec<_> = srv.server.namespaces().iter().map(|ns| ns.path()).collect();
    assert_eq!(paths, ["/", "/admin", "/race"]);
    let keys: Vec<_> = srv.server.namespaces()[0]
        .rooms()
        .iter()
        .map(|r| r.key())
        .collect();
    assert_eq!(keys, ["chat", "user", "team", "lobby"]);
}

#[tokio::test]
async fn the_layer_keeps_serving_after_the_server_value_is_dropped() {
    let server = Server::builder()
        .install_broadcaster(false)
        .build()
        .await
        .expect("server builds");
    let (layer, broadcaster) = (server.layer(), server.broadcaster().clone());
    drop(server);
    let url = serve_on_loopback(axum::Router::new().layer(layer)).await;
    let mut alice = Client::builder(&url)
        .auth(json!({ "token": "dropped-alice" }))
        .connect()
        .await
        .expect("connects");
    join(&mut alice, "chat", json!({ "chat_id": 61 }), "chat|61").await;
    let news = ChatNews {
        chats: vec![61],
        text: "still here".into(),
    };
    assert!(broadcaster.broadcast(&news).await.unwrap());
    assert_eq!(expect(&mut alice, "chat_news").await["text"], json!("still here"));
}

#[tokio::test]
async fn an_in_process_server_exposes_its_socketioxide_handle_for_that_adapter_only() {
    use fast_app::redis::RedisAdapter;
    use fast_app::socketioxide::adapter::LocalAdapter;

    let srv = TestServer::start().await;
    assert!(!srv.server.is_redis());
    let io = srv.server.io::<LocalAdapter>().expect("the in-process handle");
    assert!(io.of("/admin").is_some());
    assert!(srv.server.io::<RedisAdapter>().is_none());
}

/// Broadcasts a burst to one member; returns the payload numbers it
/// received and how many broadcasts reported an error.
async fn burst(builder: fast_app::ServerBuilder, n: usize) -> (Vec<usize>, usize) {
    let srv = TestServer::start_with(builder).await;
    let mut alice = srv.client("burst-alice").await;
    join(&mut alice, "chat", json!({ "chat_id": 41 }), "chat|41").await;
    let mut failed = 0;
    for i in 0..n {
        let news = ChatNews {
            chats: vec![41],
            text: i.to_string(),
        };
        if srv.server.broadcaster().broadcast(&news).await.is_err() {
            failed += 1;
        }
    }
    let mut received = Vec::new();
    while let Ok(event) = alice.next_event(std::time::Duration::from_millis(500)).await {
        received.push(event.args[0]["text"].as_str().unwrap().parse().unwrap());
    }
    (received, failed)
}

#[tokio::test]
async fn a_burst_of_broadcasts_reaches_a_client_in_full_with_the_default_buffer() {
    let (received, failed) = burst(fast_app::Server::builder(), 3000).await;
    assert_eq!(failed, 0);
    assert_eq!(received, (0..3000).collect::<Vec<_>>(), "all of them, in order");
}

#[tokio::test]
async fn a_burst_past_a_small_buffer_is_counted_as_dropped_not_lost_silently() {
    let metrics = fast_app::metrics::install().expect("the recorder installs");
    let dropped = || {
        metrics
            .render()
            .lines()
            .filter(|l| {
                l.starts_with("fast_app_packets_dropped_total{") && l.contains(r#"event="chat_news""#)
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as usize)
            .sum::<usize>()
    };
    let before = dropped();
    let (received, failed) = burst(fast_app::Server::builder().max_buffer_size(128), 3000).await;
    // The client's queue overflows: a slow consumer, not a failed broadcast.
    assert_eq!(failed, 0, "a full queue does not fail the broadcast");
    let dropped = dropped() - before;
    assert!(
        dropped > 0,
        "socketioxide's default-sized queue overflows, and that is counted"
    );
    assert_eq!(
        received.len() + dropped,
        3000,
        "each broadcast was delivered or counted as dropped"
    );
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates"
    );
}
