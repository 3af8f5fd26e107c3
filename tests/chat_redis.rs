//! The chat example's own code on two Redis-mode servers, with a worker-style
//! emitter, as the README's multi-process walk-through runs it.

#[path = "../examples/chat/http.rs"]
mod http;
#[path = "../examples/chat/socketio.rs"]
#[allow(dead_code)]
mod socketio;

mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::time::Duration;

use common::*;
use fast_app::redis::RedisConfig;
use fast_app::{Broadcaster, Server};
use redis_server::RedisServer;
use serde_json::json;
use socketio::MessageSent;
use socketio_test_client::Client;

async fn chat_server(config: &RedisConfig, install: bool) -> String {
    let server = Server::builder()
        .install_broadcaster(install)
        .build_redis(config)
        .await
        .expect("chat server on redis");
    serve_on_loopback(
        http::routes(&fast_app::metrics::install().expect("metrics install")).layer(server.layer()),
    )
    .await
}

/// `name` in chat 1, where `members` (sorted) are then.
async fn in_chat_1(url: &str, name: &str, members: &[&str]) -> Client {
    let mut client = chat_user(url, name).await;
    join_chat(&mut client, 1, members).await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_chat_servers_and_a_worker_share_messages_through_redis() {
    let mut redis = RedisServer::start();
    let config = RedisConfig::new(redis.url())
        .with_prefix("chat-walkthrough")
        .with_timeout(Duration::from_secs(1));
    // Server A's HTTP handlers broadcast through the global broadcaster.
    let a = chat_server(&config, true).await;
    let b = chat_server(&config, false).await;
    let mut alice = in_chat_1(&a, "alice", &["alice"]).await;
    let mut bob = in_chat_1(&b, "bob", &["alice", "bob"]).await;
    // Presence crosses servers: Alice, on A, sees Bob join on B.
    presence_event(&mut alice, "presence_join", 1, "bob").await;

    // The worker: a publish-only emitter, subscribed to nothing.
    let channel = "chat-walkthrough-request#/#";
    assert_eq!(redis.numsub(channel), 2);
    let worker = Broadcaster::redis_emitter(&config).await.unwrap();
    assert_eq!(redis.numsub(channel), 2);
    let job = MessageSent {
        chat_id: 1,
        user: "worker".into(),
        text: "nightly report".into(),
    };
    assert!(worker.broadcast(&job).await.unwrap());
    let expected = json!({ "chat_id": 1, "user": "worker", "text": "nightly report" });
    assert_eq!(expect(&mut alice, "message_sent").await, expected);
    assert_eq!(expect(&mut bob, "message_sent").await, expected);

    // A member on B sends; the member on A receives.
    bob.emit("send_message", json!({ "chat_id": 1, "text": "hi alice" }))
        .await
        .unwrap();
    let expected = json!({ "chat_id": 1, "user": "bob", "text": "hi alice" });
    assert_eq!(expect(&mut alice, "message_sent").await, expected);
    assert_eq!(expect(&mut bob, "message_sent").await, expected);

    // The HTTP endpoint on A reaches B.
    let (status, _) = http_request(
        &a,
        "POST",
        "/chats/1/messages",
        &json!({ "user": "ops", "text": "up" }),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(expect(&mut bob, "message_sent").await["text"], json!("up"));
    assert_eq!(expect(&mut alice, "message_sent").await["text"], json!("up"));

    // Redis down: the endpoint answers with an error status instead of hanging.
    redis.stop();
    let answer = tokio::time::timeout(
        Duration::from_secs(15),
        http_request(
            &a,
            "POST",
            "/chats/1/messages",
            &json!({ "user": "ops", "text": "down" }),
        ),
    )
    .await
    .expect("the endpoint answered");
    assert_eq!(answer.0, 503, "{answer:?}");
    assert!(
        answer.1["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{answer:?}"
    );
    assert!(alice.is_connected() && bob.is_connected());
}
