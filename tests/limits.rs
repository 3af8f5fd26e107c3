//! What one client can make the server hold or write: the message size limit
//! on both transports, and logs that a flooding client cannot fill.

mod common;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::*;
use fast_app::prelude::*;
use fast_app::socketioxide::socket::DisconnectReason;
use fast_app::{DEFAULT_MAX_PAYLOAD, Server};
use futures_util::{SinkExt, StreamExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use socketio_test_client::Client;
use tokio_tungstenite::tungstenite::Message;

// ---- the application under test -------------------------------------------------

/// Why each connection ended, in order.
static REASONS: Mutex<Vec<DisconnectReason>> = Mutex::new(Vec::new());

/// One test of this file at a time: the flood test loads the machine, and a
/// join of another test must not wait on it.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn gone(_session: &Session, reason: DisconnectReason) {
    REASONS.lock().unwrap().push(reason);
}

#[namespace("/", disconnect = gone)]
#[rooms(ChatRoom, TopicRoom)]
struct Root;

/// `join_chat {"chat_id"}`; other fields (padding) are ignored.
#[derive(Clone, Room, Deserialize, JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

/// `join_topic {"topic"}`: the reply carries the room name, as long as the topic.
#[derive(Clone, Room, Deserialize, JsonSchema)]
struct TopicRoom {
    topic: String,
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = ChatRoom { chat_id: self.chat_id })]
struct Said {
    chat_id: u64,
    text: String,
}

/// The Engine.IO text frame of `join_chat` in chat 1, padded to exactly `bytes`.
fn join_chat_frame(bytes: usize) -> String {
    let frame = |pad: &str| format!(r#"42["join_chat",{{"chat_id":1,"pad":"{pad}"}}]"#);
    let overhead = frame("").len();
    frame(&"x".repeat(bytes - overhead))
}

async fn member(server: &TestServer, name: &str) -> Client {
    let mut client = server.client(name).await;
    join(&mut client, "chat", json!({ "chat_id": 1 }), "chat|1").await;
    client
}

async fn closed(client: &Client) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while client.is_connected() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection stayed open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---- the message size limit -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_message_over_the_default_limit_closes_that_connection_only() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    let mut bystander = member(&server, "bystander").await;
    let mut sender = member(&server, "sender").await;
    let limit = usize::try_from(DEFAULT_MAX_PAYLOAD).unwrap();

    // Just at the limit: served.
    sender.send_raw(&join_chat_frame(limit)).await.unwrap();
    assert_eq!(expect(&mut sender, "joined").await, json!({ "room": "chat|1" }));

    // One byte more: that connection is closed, as a transport error.
    sender.send_raw(&join_chat_frame(limit + 1)).await.unwrap();
    closed(&sender).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !REASONS
        .lock()
        .unwrap()
        .contains(&DisconnectReason::TransportError)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            REASONS.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The other client is still connected and served.
    let said = Said {
        chat_id: 1,
        text: "still here".into(),
    };
    assert!(server.server.broadcaster().broadcast(&said).await.unwrap());
    assert_eq!(
        expect(&mut bystander, "said").await,
        json!({ "chat_id": 1, "text": "still here" })
    );
    assert!(bystander.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_payload_sets_the_websocket_limit() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start_with(Server::builder().max_payload(1_000)).await;
    let mut bystander = member(&server, "small-bystander").await;
    let mut sender = member(&server, "small-sender").await;
    sender.send_raw(&join_chat_frame(1_000)).await.unwrap();
    assert_eq!(expect(&mut sender, "joined").await, json!({ "room": "chat|1" }));
    sender.send_raw(&join_chat_frame(1_001)).await.unwrap();
    closed(&sender).await;
    let said = Said {
        chat_id: 1,
        text: "small".into(),
    };
    assert!(server.server.broadcaster().broadcast(&said).await.unwrap());
    assert_eq!(
        expect(&mut bystander, "said").await,
        json!({ "chat_id": 1, "text": "small" })
    );
}

/// Sends `text` as one websocket message in `parts` fragments.
async fn send_fragmented(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    text: &str,
    parts: usize,
) {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let size = text.len().div_ceil(parts);
    let chunks: Vec<&[u8]> = text.as_bytes().chunks(size).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let opcode = OpCode::Data(if i == 0 { Data::Text } else { Data::Continue });
        let frame = Frame::message(chunk.to_vec(), opcode, i + 1 == chunks.len());
        ws.send(Message::Frame(frame)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_in_small_fragments_closes_the_connection_too() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    let mut bystander = member(&server, "fragments-bystander").await;
    let (mut ws, _) = paused_client(&server.url).await;
    let limit = usize::try_from(DEFAULT_MAX_PAYLOAD).unwrap();

    // At the limit, in four frames: served.
    send_fragmented(&mut ws, &join_chat_frame(limit), 4).await;
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a reply") {
            Some(Ok(Message::Text(text))) if text.starts_with(r#"42["joined""#) => break,
            Some(Ok(_)) => continue,
            other => panic!("closed at the limit: {other:?}"),
        }
    }

    // One byte more, in frames each far under the limit: closed.
    send_fragmented(&mut ws, &join_chat_frame(limit + 1), 4).await;
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("the connection closed")
        {
            Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            Some(Ok(_)) => continue,
        }
    }

    let said = Said {
        chat_id: 1,
        text: "after fragments".into(),
    };
    assert!(server.server.broadcaster().broadcast(&said).await.unwrap());
    assert_eq!(
        expect(&mut bystander, "said").await,
        json!({ "chat_id": 1, "text": "after fragments" })
    );
}

// ---- logs a flooding client cannot fill -----------------------------------------

/// Every line the runtime logs (DEBUG and up), shared by the tests of this binary.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures the process's logs from the first call on.
    fn capture() -> Self {
        static LOGS: OnceLock<Logs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs::default();
            let writer = logs.clone();
            tracing_subscriber::fmt()
                .with_env_filter("fast_app_runtime=debug")
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .init();
            logs
        })
        .clone()
    }

    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines().map(str::to_owned).collect()
    }

    fn count(&self, level: &str, text: &str) -> usize {
        self.lines()
            .iter()
            .filter(|l| l.contains(level) && l.contains(text))
            .count()
    }
}

/// A websocket client of `/` that never reads again once connected: the
/// server's writes to it back up until its queue is full. Returns it with
/// its session id.
async fn paused_client(url: &str) -> (tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, String) {
    let addr = url.trim_start_matches("http://");
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small receive window, so the backlog builds up in few replies.
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr.parse().unwrap()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(
        format!("ws://{addr}/socket.io/?EIO=4&transport=websocket"),
        stream,
    )
    .await
    .expect("websocket handshake");
    let sid = loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            panic!("closed before connecting")
        };
        if text.starts_with('0') {
            ws.send(Message::text("40")).await.unwrap();
        } else if let Some(connect) = text.strip_prefix("40") {
            let connect: serde_json::Value = serde_json::from_str(connect).unwrap();
            break connect["sid"].as_str().unwrap().to_owned();
        }
    };
    (ws, sid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_client_flooding_joins_writes_a_bounded_number_of_warnings() {
    let _one = ONE_AT_A_TIME.lock().await;
    let logs = Logs::capture();
    let server = TestServer::start_with(Server::builder().max_buffer_size(8)).await;
    let mut bystander = member(&server, "flood-bystander").await;
    let (mut paused, sid) = paused_client(&server.url).await;

    // Each reply carries the 16 kB room name: a few hundred fill the
    // connection, the rest cannot be sent.
    let topic = "t".repeat(16 * 1024);
    let frame = format!(r#"42["join_topic",{{"topic":"{topic}"}}]"#);
    const JOINS: usize = 1_500;
    for _ in 0..JOINS {
        paused.send(Message::text(frame.clone())).await.unwrap();
    }
    // Wait (a bounded while) until most replies have failed: every failure is
    // logged, at WARN or at DEBUG.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while logs.count("fast-app: reply to `join_topic` not sent", "") < JOINS / 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} replies failed",
            logs.count("fast-app: reply to `join_topic` not sent", "")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let warnings = logs.count(" WARN ", "not sent");
    assert!(
        (1..=3).contains(&warnings),
        "{warnings} warnings for {JOINS} joins of one paused client"
    );
    // The session id is a credential on polling: in no line.
    let with_sid: Vec<_> = logs.lines().into_iter().filter(|l| l.contains(&sid)).collect();
    assert!(with_sid.is_empty(), "{with_sid:?}");

    // Everyone else is served.
    join(&mut bystander, "topic", json!({ "topic": "news" }), "topic|news").await;
    let said = Said {
        chat_id: 1,
        text: "served".into(),
    };
    assert!(server.server.broadcaster().broadcast(&said).await.unwrap());
    assert_eq!(
        expect(&mut bystander, "said").await,
        json!({ "chat_id": 1, "text": "served" })
    );
}

// ---- slow consumers -----------------------------------------------------------

/// A paused client that joined chat 1 and read its `joined` reply.
async fn paused_member(url: &str) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let (mut ws, _) = paused_client(url).await;
    ws.send(Message::text(r#"42["join_chat",{"chat_id":1}]"#))
        .await
        .unwrap();
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.contains("chat|1") => return ws,
            Some(Ok(_)) => {}
            other => panic!("closed before joining: {other:?}"),
        }
    }
}

/// Until one more connection than `before` has ended; returns why it did.
async fn one_more_gone(before: usize) -> DisconnectReason {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(reason) = REASONS.lock().unwrap().get(before) {
            return *reason;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow consumer was not closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Broadcasts `count` 16 kB lines to chat 1, each once the bystander has the
/// one before (so only the paused client falls behind); every broadcast
/// must succeed, and the bystander receive every line.
async fn lines_to_chat_1(server: &TestServer, bystander: &mut Client, count: usize) {
    let pad = "x".repeat(16 * 1024);
    for i in 0..count {
        let said = Said {
            chat_id: 1,
            text: format!("{i} {pad}"),
        };
        let sent = server.server.broadcaster().broadcast(&said).await;
        assert!(matches!(sent, Ok(true)), "broadcast {i}: {sent:?}");
        let got = expect(bystander, "said").await;
        assert!(
            got["text"].as_str().unwrap().starts_with(&format!("{i} ")),
            "line {i} arrived as {:.20}",
            got["text"]
        );
    }
}

/// The paused client's connection is closed: once it reads again, what the
/// kernel held arrives, then the end.
async fn ends(mut paused: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) {
    let read_all = async {
        while let Some(Ok(message)) = paused.next().await {
            if let Message::Close(_) = message {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read_all)
        .await
        .expect("the paused client's connection stayed open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_past_its_backlog_and_no_broadcast_fails() {
    let _one = ONE_AT_A_TIME.lock().await;
    let logs = Logs::capture();
    let metrics = fast_app::metrics::install().expect("the recorder installs");
    let closed = "fast_app_slow_consumers_disconnected_total";
    let closed_before = series(&metrics, closed);
    let warned = logs.count(" WARN ", "slow consumer closed");
    // A small packet queue: without the byte bound it fills within the
    // first hundred lines, and every broadcast after would fail.
    let server = TestServer::serve_with(Server::builder().max_buffer_size(64), |serve| {
        serve.max_outbound_bytes(256 * 1024)
    })
    .await;
    let mut bystander = member(&server, "slow-bystander").await;
    let paused = paused_member(&server.url).await;
    let before = REASONS.lock().unwrap().len();

    // 9.6 MB: past what the kernel's buffers hold, and past the bound.
    lines_to_chat_1(&server, &mut bystander, 600).await;
    assert_eq!(one_more_gone(before).await, DisconnectReason::TransportError);
    ends(paused).await;

    // Logged once, without a session id; the bystander is still served.
    assert_eq!(logs.count(" WARN ", "slow consumer closed") - warned, 1);
    assert_eq!(series(&metrics, closed) - closed_before, 1);
    assert_eq!(logs.count(" WARN ", "backlog passed 262144 bytes"), 1);
    lines_to_chat_1(&server, &mut bystander, 3).await;
    assert!(bystander.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_takes_nothing_for_the_stall_timeout_is_closed() {
    let _one = ONE_AT_A_TIME.lock().await;
    let logs = Logs::capture();
    let server = TestServer::serve_with(Server::builder(), |serve| {
        serve
            .max_outbound_bytes(256 << 20)
            .write_stall_timeout(Duration::from_millis(500))
    })
    .await;
    let mut bystander = member(&server, "stall-bystander").await;
    let paused = paused_member(&server.url).await;
    let before = REASONS.lock().unwrap().len();

    // Far below the byte bound, but past the kernel's buffers: the rest
    // waits, and nothing of it moves.
    lines_to_chat_1(&server, &mut bystander, 400).await;
    assert_eq!(one_more_gone(before).await, DisconnectReason::TransportError);
    ends(paused).await;
    assert!(logs.count(" WARN ", "it took nothing for 500ms") >= 1);
    lines_to_chat_1(&server, &mut bystander, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_keeps_up_with_16_kb_lines_is_never_closed() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = TestServer::serve_with(Server::builder(), |serve| {
        serve
            .max_outbound_bytes(256 * 1024)
            .write_stall_timeout(Duration::from_secs(2))
    })
    .await;
    let mut bystander = member(&server, "steady-bystander").await;
    let mut reader = member(&server, "steady-reader").await;
    let before = REASONS.lock().unwrap().len();

    // Both take every line as it comes: a backlog never builds up.
    let pad = "x".repeat(16 * 1024);
    for i in 0..200 {
        let said = Said {
            chat_id: 1,
            text: format!("{i} {pad}"),
        };
        assert!(matches!(
            server.server.broadcaster().broadcast(&said).await,
            Ok(true)
        ));
        expect(&mut bystander, "said").await;
        expect(&mut reader, "said").await;
    }
    assert_eq!(
        REASONS.lock().unwrap().len(),
        before,
        "{:?}",
        REASONS.lock().unwrap()
    );
    assert!(reader.is_connected());
}

/// The value of the series starting `series` (name and labels), 0 if absent.
fn series(metrics: &fast_app::metrics::Metrics, series: &str) -> u64 {
    metrics
        .render()
        .lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .map_or(0, |value| value.parse::<f64>().unwrap() as u64)
}

/// A polling request's answer body.
async fn polling(url: &str, method: &str, path: &str, body: &str) -> String {
    let text = [("content-type", "text/plain;charset=UTF-8")];
    http(url, method, path, &text, body).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_a_polling_client_does_not_fetch_are_dropped_and_counted_not_failed() {
    let _one = ONE_AT_A_TIME.lock().await;
    let logs = Logs::capture();
    let metrics = fast_app::metrics::install().expect("the recorder installs");
    let dropped = r#"fast_app_packets_dropped_total{namespace="/",event="said"}"#;
    let before = series(&metrics, dropped);
    let server = TestServer::serve_with(Server::builder().max_buffer_size(4), |serve| serve).await;
    let mut bystander = member(&server, "polling-bystander").await;

    // A polling client joins chat 1, then never polls again.
    let open = polling(&server.url, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
    let open: serde_json::Value = serde_json::from_str(open.trim_start_matches('0')).unwrap();
    let path = format!(
        "/socket.io/?EIO=4&transport=polling&sid={}",
        open["sid"].as_str().unwrap()
    );
    assert_eq!(polling(&server.url, "POST", &path, "40").await, "ok");
    let connected = polling(&server.url, "GET", &path, "").await;
    assert!(connected.contains("40{"), "{connected:?}");
    assert_eq!(
        polling(&server.url, "POST", &path, r#"42["join_chat",{"chat_id":1}]"#).await,
        "ok"
    );
    assert!(polling(&server.url, "GET", &path, "").await.contains("chat|1"));

    // Its queue holds 4: the rest is dropped for it alone, and counted.
    lines_to_chat_1(&server, &mut bystander, 10).await;
    assert!(series(&metrics, dropped) - before >= 5, "{}", metrics.render());
    assert!(logs.count(" WARN ", "slow socket(s) could not take a packet") >= 1);
}
