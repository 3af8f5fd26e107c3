//! "To others": a client's public id (`socket_id`), and broadcasts that
//! leave its socket out, on one server (the in-process adapter). Across
//! servers and from the worker's emitter: `tests/redis.rs`.

mod common;

#[path = "common/chat_app.rs"]
mod chat_app;

use chat_app::said;
use common::*;
use serde_json::json;
use socketio_test_client::Client;

async fn member(server: &TestServer, name: &str) -> Client {
    let mut client = server.client(name).await;
    join(&mut client, "chat", json!({ "chat_id": 1 }), "chat|1").await;
    client
}

async fn receives(client: &mut Client, text: &str) {
    assert_eq!(
        expect(client, "said").await,
        json!({ "chat_id": 1, "text": text })
    );
}

#[tokio::test]
async fn a_broadcast_except_a_socket_reaches_everyone_else_once() {
    let server = TestServer::start().await;
    let (mut alice, mut bob, mut carol) = (
        member(&server, "alice").await,
        member(&server, "bob").await,
        member(&server, "carol").await,
    );
    let id = public_id(&mut alice).await;
    let broadcaster = server.server.broadcaster();
    assert!(
        broadcaster
            .broadcast(&said("not to alice"))
            .except(id)
            .await
            .unwrap()
    );
    receives(&mut bob, "not to alice").await;
    receives(&mut carol, "not to alice").await;
    silent(&mut alice).await;

    // Without an exclusion, everyone; the id keeps working after.
    assert!(broadcaster.broadcast(&said("to all")).except(None).await.unwrap());
    for client in [&mut alice, &mut bob, &mut carol] {
        receives(client, "to all").await;
    }
    assert!(broadcaster.broadcast(&said("again")).except(id).await.unwrap());
    receives(&mut bob, "again").await;
    silent(&mut alice).await;
}

#[tokio::test]
async fn a_socket_keeps_its_id_and_each_socket_has_its_own() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut alice_again = server.client("alice").await;
    let first = public_id(&mut alice).await;
    assert_eq!(public_id(&mut alice).await, first);
    // One user, two tabs: two sockets, two ids; leaving one out keeps the other.
    let second = public_id(&mut alice_again).await;
    assert_ne!(first, second);
    join(&mut alice, "chat", json!({ "chat_id": 1 }), "chat|1").await;
    join(&mut alice_again, "chat", json!({ "chat_id": 1 }), "chat|1").await;
    let broadcaster = server.server.broadcaster();
    assert!(
        broadcaster
            .broadcast(&said("other tab"))
            .except(first)
            .await
            .unwrap()
    );
    receives(&mut alice_again, "other tab").await;
    silent(&mut alice).await;
}

#[tokio::test]
async fn the_public_id_is_not_a_session_id() {
    let server = TestServer::start().await;
    let mut alice = member(&server, "alice").await;
    let id = public_id(&mut alice).await;
    let polling = format!("/socket.io/?EIO=4&transport=polling&sid={id}");
    // Neither reading nor posting on the polling transport in alice's name.
    assert_eq!(http(&server.url, "GET", &polling, &[], "").await.0, 400);
    let raw = r#"42["leave_chat",{"chat_id":1}]"#;
    let text = [("content-type", "text/plain;charset=UTF-8")];
    assert_eq!(http(&server.url, "POST", &polling, &text, raw).await.0, 400);
    // Alice is still in the chat.
    assert!(
        server
            .server
            .broadcaster()
            .broadcast(&said("still here"))
            .await
            .unwrap()
    );
    receives(&mut alice, "still here").await;
}
