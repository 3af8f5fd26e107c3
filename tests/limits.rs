//! What one client can make the server hold or write: the message size limit
//! on both transports, and logs that a flooding client cannot fill.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::*;
use fast_app::prelude::*;
use fast_app::socketioxide::socket::DisconnectReason;
use fast_app::{DEFAULT_MAX_PAYLOAD, Server};
use serde::{Deserialize, Serialize};
use serde_json::json;
use socketio_test_client::Client;

// ---- the application under test -------------------------------------------------

/// Why each connection ended, in order.
static REASONS: Mutex<Vec<DisconnectReason>> = Mutex::new(Vec::new());

async fn gone(_session: &Session, reason: DisconnectReason) {
    REASONS.lock().unwrap().push(reason);
}

#[namespace("/", disconnect = gone)]
#[rooms(ChatRoom, TopicRoom)]
struct Root;

/// `join_chat {"chat_id"}`; other fields (padding) are ignored.
#[derive(Clone, Room, Deserialize)]
struct ChatRoom {
    chat_id: u64,
}

/// `join_topic {"topic"}`: the reply carries the room name, as long as the topic.
#[derive(Clone, Room, Deserialize)]
struct TopicRoom {
    topic: String,
}

#[derive(Serialize, BroadcastEvent)]
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
