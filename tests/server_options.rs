//! The `connected` hook, and the socketioxide settings of `ServerBuilder`:
//! each shown to take effect with a real client over loopback.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use fast_app::prelude::*;
use fast_app::socketioxide::adapter::Adapter;
use fast_app::socketioxide::extract::{SocketRef, TryData};
use fast_app::socketioxide::{AckError, TransportType};
use futures_util::StreamExt;
use serde_json::{Value, json};
use socketio_test_client::{Client, ClientError};
use tokio_tungstenite::tungstenite::Message;

// ---- the application under test -------------------------------------------------

/// The `auth` payload the client connected with.
#[derive(Clone)]
struct Handshake(Value);

async fn keep_auth(session: &Session, auth: &Value) -> Result<(), ConnectError> {
    session.insert(Handshake(auth.clone()));
    Ok(())
}

/// As the server of socket.io's protocol suite: `auth` with the handshake's
/// payload, the moment the client is connected.
async fn greet<A: Adapter>(session: &Session, socket: &SocketRef<A>) {
    let auth = session.get::<Handshake>().map_or(Value::Null, |h| h.0);
    let _ = socket.emit("auth", &auth);
}

fn probes<A: Adapter>(socket: &SocketRef<A>) {
    // Asks the client for an acknowledgement, and tells it how that ended.
    socket.on("probe", async |socket: SocketRef<A>| {
        let outcome = match socket.emit_with_ack::<_, Value>("probe", &()) {
            Ok(ack) => match ack.await {
                Ok(_) => "answered",
                Err(AckError::Timeout) => "timeout",
                Err(_) => "failed",
            },
            Err(_) => "not sent",
        };
        let _ = socket.emit("probed", &outcome);
    });
    // Two attachments: answers their sizes.
    socket.on(
        "upload",
        async |socket: SocketRef<A>, TryData(data): TryData<(Bytes, Bytes)>| {
            let sizes = data.map(|(a, b)| [a.len(), b.len()]).map_err(|e| e.to_string());
            let _ = socket.emit("uploaded", &sizes);
        },
    );
}

#[namespace("/", connect = keep_auth, connected = greet, handlers = probes)]
struct Root;

#[namespace("/custom", connect = keep_auth, connected = greet)]
struct Custom;

/// A generous bound on what must happen: the tests wait for the event, this
/// only keeps a broken server from hanging them (each setting under test is
/// far below it, and socketioxide's default far above).
const BOUND: Duration = Duration::from_secs(10);

async fn client(url: &str, ns: &str, auth: Value) -> Client {
    Client::builder(url)
        .namespace(ns)
        .auth(auth)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connects to {ns}: {e}"))
}

/// The status code of `GET path` (with `headers`).
async fn get_status(url: &str, path: &str, headers: &[(&str, &str)]) -> u16 {
    get(url, path, headers).await.0
}

/// The status code and body of `GET path` (with `headers`).
async fn get(url: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    http(url, "GET", path, headers, "").await
}

/// A websocket to `url`'s Socket.IO path (`query` appended), with nothing
/// sent on it: no CONNECT, no pong.
async fn raw_websocket(url: &str, query: &str) -> WebSocket {
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket{query}",
        url.replace("http://", "ws://")
    );
    let (ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("websocket opens");
    ws
}

/// The Engine.IO handshake of an open packet (`0{...}`).
fn handshake(open: &str) -> Value {
    serde_json::from_str(open.trim_start_matches('0')).unwrap_or_else(|e| panic!("open packet {open:?}: {e}"))
}

type WebSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Waits until the server closes websocket `ws`, at most `bound`.
async fn ws_closed<S>(ws: &mut S, bound: Duration) -> bool
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(bound, async {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Close(_) = message {
                break;
            }
        }
    })
    .await
    .is_ok()
}

const POLLING: &str = "/socket.io/?EIO=4&transport=polling";

// ---- connected ---------------------------------------------------------------------

#[tokio::test]
async fn the_first_packet_after_connect_is_the_connected_hooks() {
    let server = TestServer::start().await;
    for ns in ["/", "/custom"] {
        let auth = json!({ "token": "alice", "ns": ns });
        let mut alice = client(&server.url, ns, auth.clone()).await;
        let first = alice.next_event(WAIT).await.expect("an event after CONNECT");
        assert_eq!(first, event("auth", auth), "on {ns}");
    }
}

#[tokio::test]
async fn many_clients_each_get_the_hooks_event_first_and_once() {
    let server = TestServer::start().await;
    let clients =
        futures_util::future::join_all((0..50).map(|i| client(&server.url, "/", json!({ "n": i })))).await;
    let mut clients: Vec<Client> = clients;
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(expect(client, "auth").await, json!({ "n": i }));
    }
    silent(&mut clients[0]).await;
    for client in &mut clients {
        assert_eq!(client.try_events(), [], "a second event");
    }
}

// ---- timeouts ----------------------------------------------------------------------

#[tokio::test]
async fn a_connection_that_never_connects_to_a_namespace_is_closed_after_connect_timeout() {
    let server = TestServer::start_with(Server::builder().connect_timeout(Duration::from_millis(200))).await;
    let mut ws = raw_websocket(&server.url, "").await;
    assert!(
        ws_closed(&mut ws, BOUND).await,
        "the connection outlived the connect timeout"
    );

    // A client that connects at once is not affected.
    let mut alice = client(&server.url, "/", json!({})).await;
    expect(&mut alice, "auth").await;
}

#[tokio::test]
async fn the_heartbeat_is_advertised_and_a_client_that_stops_answering_is_dropped() {
    let server = TestServer::start_with(
        Server::builder()
            .ping_interval(Duration::from_millis(100))
            .ping_timeout(Duration::from_millis(100)),
    )
    .await;
    let mut alive = client(&server.url, "/", json!({})).await;
    expect(&mut alive, "auth").await;

    // A websocket that connects to `/` and never answers a ping.
    let mut ws = raw_websocket(&server.url, "").await;
    let open = match ws.next().await {
        Some(Ok(Message::Text(text))) => text.to_string(),
        other => panic!("expected the open packet, got {other:?}"),
    };
    let heartbeat = handshake(&open);
    assert_eq!(heartbeat["pingInterval"], 100, "{open}");
    assert_eq!(heartbeat["pingTimeout"], 100, "{open}");
    futures_util::SinkExt::send(&mut ws, Message::text("40"))
        .await
        .unwrap();
    // socketioxide's defaults (25 s, 20 s) would hold it for 45 s.
    assert!(
        ws_closed(&mut ws, BOUND).await,
        "a silent client outlived the heartbeat"
    );

    // The client that answers its pings is still served.
    alive.emit("probe", Value::Null).await.unwrap();
    assert_eq!(expect(&mut alive, "probe").await, Value::Null);
}

#[tokio::test]
async fn an_unanswered_acknowledgement_times_out_after_ack_timeout() {
    let short = TestServer::start_with(Server::builder().ack_timeout(Duration::from_millis(100))).await;
    let long = TestServer::start_with(Server::builder().ack_timeout(Duration::from_secs(3600))).await;
    let mut patient = client(&long.url, "/", json!({})).await;
    let mut hasty = client(&short.url, "/", json!({})).await;
    expect(&mut patient, "auth").await;
    expect(&mut hasty, "auth").await;

    // Neither client answers; the hour-long wait starts first.
    patient.emit("probe", Value::Null).await.unwrap();
    assert_eq!(expect(&mut patient, "probe").await, Value::Null);
    hasty.emit("probe", Value::Null).await.unwrap();
    assert_eq!(expect(&mut hasty, "probe").await, Value::Null);
    assert_eq!(expect(&mut hasty, "probed").await, json!("timeout"));
    assert_eq!(patient.try_events(), [], "the hour-long wait is still on");
}

#[tokio::test]
async fn an_upgrade_that_never_finishes_ends_its_session_after_upgrade_timeout() {
    let server = TestServer::start_with(Server::builder().upgrade_timeout(Duration::from_millis(200))).await;
    // A polling session, then a websocket for it that never sends the probe.
    let (status, open) = get(&server.url, POLLING, &[]).await;
    assert_eq!(status, 200, "{open}");
    let open = handshake(&open);
    let sid = open["sid"].as_str().expect("sid");
    let mut ws = raw_websocket(&server.url, &format!("&sid={sid}")).await;
    // Half socketioxide's default (10 s): what closes it is the setting.
    assert!(
        ws_closed(&mut ws, Duration::from_secs(5)).await,
        "the upgrade outlived the upgrade timeout"
    );
    let (status, _) = get(&server.url, &format!("{POLLING}&sid={sid}"), &[]).await;
    assert_eq!(status, 400, "the session ended with the upgrade");
}

// ---- transports and path -------------------------------------------------------

#[tokio::test]
async fn a_websocket_only_server_refuses_polling() {
    let server = TestServer::start_with(Server::builder().transports([TransportType::Websocket])).await;
    assert_eq!(get_status(&server.url, POLLING, &[]).await, 400);
    let mut alice = client(&server.url, "/", json!({})).await;
    expect(&mut alice, "auth").await;
}

#[tokio::test]
async fn a_polling_only_server_refuses_websockets() {
    let server = TestServer::start_with(Server::builder().transports([TransportType::Polling])).await;
    assert_eq!(get_status(&server.url, POLLING, &[]).await, 200);
    match Client::connect(&server.url).await {
        Err(ClientError::WebSocket(_)) => {}
        Err(other) => panic!("expected the websocket refused, got {other}"),
        Ok(_) => panic!("a websocket connected to a polling-only server"),
    }
}

#[tokio::test]
async fn socket_io_is_served_at_the_configured_path_and_its_origins_are_checked_there() {
    let server = TestServer::start_with(
        Server::builder()
            .path("/realtime")
            .allowed_origins(["http://app.example"]),
    )
    .await;
    let mut alice = Client::builder(&server.url)
        .path("/realtime/")
        .connect()
        .await
        .expect("connects at /realtime/");
    expect(&mut alice, "auth").await;

    // The default path is the application's now: nothing serves it.
    assert_eq!(get_status(&server.url, POLLING, &[]).await, 404);
    let realtime = "/realtime/?EIO=4&transport=polling";
    assert_eq!(get_status(&server.url, realtime, &[]).await, 200);
    assert_eq!(
        get_status(&server.url, realtime, &[("origin", "http://evil.example")]).await,
        403
    );
    let refused = Client::builder(&server.url)
        .path("/realtime/")
        .header("origin", "http://evil.example")
        .connect()
        .await;
    assert!(refused.is_err(), "a websocket from another origin connected");
}

// ---- binary attachments -----------------------------------------------------------

/// A binary `upload` event announcing `count` attachments.
fn upload(count: usize) -> String {
    let placeholders: Vec<Value> = (0..count)
        .map(|num| json!({ "_placeholder": true, "num": num }))
        .collect();
    let mut args = vec![json!("upload")];
    args.extend(placeholders);
    format!("45{count}-{}", Value::Array(args))
}

/// Waits until the server closes `client`'s connection.
async fn closed(client: &mut Client) {
    loop {
        match client.next_event(BOUND).await {
            Err(ClientError::Closed) => return,
            Err(e) => panic!("expected the connection closed: {e}"),
            Ok(_) => {}
        }
    }
}

async fn attachments_server() -> TestServer {
    TestServer::start_with(
        Server::builder()
            .max_payload(1000)
            .max_attachments(2)
            .attachments_timeout(Duration::from_millis(100)),
    )
    .await
}

async fn uploader(server: &TestServer) -> Client {
    let mut client = client(&server.url, "/", json!({})).await;
    expect(&mut client, "auth").await;
    client
}

#[tokio::test]
async fn attachments_within_the_limits_arrive() {
    let server = attachments_server().await;
    let mut client = uploader(&server).await;
    client.send_raw(&upload(2)).await.unwrap();
    client.send_binary(vec![1; 400]).await.unwrap();
    client.send_binary(vec![2; 400]).await.unwrap();
    assert_eq!(expect(&mut client, "uploaded").await, json!({ "Ok": [400, 400] }));
}

#[tokio::test]
async fn a_packet_announcing_more_attachments_than_allowed_closes_its_connection_only() {
    let server = attachments_server().await;
    let mut bystander = uploader(&server).await;
    let mut client = uploader(&server).await;
    client.send_raw(&upload(3)).await.unwrap();
    closed(&mut client).await;
    bystander.emit("probe", Value::Null).await.unwrap();
    assert_eq!(expect(&mut bystander, "probe").await, Value::Null);
}

#[tokio::test]
async fn attachments_larger_together_than_max_payload_close_the_connection() {
    let server = attachments_server().await;
    let mut client = uploader(&server).await;
    client.send_raw(&upload(2)).await.unwrap();
    // Each under 1000 bytes, as a websocket message; 1200 together.
    client.send_binary(vec![1; 600]).await.unwrap();
    client.send_binary(vec![2; 600]).await.unwrap();
    closed(&mut client).await;
}

#[tokio::test]
async fn attachments_that_come_too_late_close_the_connection() {
    let server = attachments_server().await;
    let mut client = uploader(&server).await;
    client.send_raw(&upload(1)).await.unwrap();
    // Late on purpose: the point is a client slower than the timeout.
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.send_binary(vec![1; 10]).await.unwrap();
    closed(&mut client).await;
}

// ---- whatever else socketioxide's builder has ------------------------------------

#[tokio::test]
async fn the_socketio_step_reaches_socketioxides_builder_and_wins() {
    // fast-app's own setting, then the step's: the step's is what serves.
    let server = TestServer::start_with(
        Server::builder()
            .path("/ignored")
            .socketio(|io| io.req_path("/raw")),
    )
    .await;
    let mut alice = Client::builder(&server.url)
        .path("/raw/")
        .connect()
        .await
        .expect("connects at the step's path");
    expect(&mut alice, "auth").await;
    assert_eq!(
        get_status(&server.url, "/ignored/?EIO=4&transport=polling", &[]).await,
        404
    );
}
