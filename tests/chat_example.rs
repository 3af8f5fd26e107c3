//! The chat example's own code, served for real and driven by real clients:
//! the demo policy documented at the top of `examples/chat/main.rs`.

#[path = "../examples/chat/http.rs"]
mod http;
#[path = "../examples/chat/socketio.rs"]
#[allow(dead_code)]
mod socketio;

mod common;

use common::*;
use fast_app::Server;
use serde_json::json;
use socketio_test_client::Client;

#[tokio::test]
async fn the_chat_example_follows_its_documented_policy() {
    // One server for the whole flow: the example broadcasts through the global broadcaster.
    let server = Server::builder().build().await.expect("chat server builds");
    let url = serve_on_loopback(
        http::routes(&fast_app::metrics::install().expect("metrics install")).layer(server.layer()),
    )
    .await;
    let client = |name: &'static str| chat_user(&url, name);

    // Connect: no token, no connection.
    assert_eq!(
        refusal(Client::builder(&url).connect().await),
        "No access token provided"
    );
    assert_eq!(
        refusal(
            Client::builder(&url)
                .auth(json!({ "token": " " }))
                .connect()
                .await
        ),
        "No access token provided"
    );

    let mut alice = client("alice").await;
    let mut bob = client("bob").await;
    let mut carol = client("carol").await;

    // Chats 1 to 100 are open, others forbidden.
    // Each chat shows who is in it.
    join_chat(&mut alice, 1, &["alice"]).await;
    join_chat(&mut bob, 1, &["alice", "bob"]).await;
    presence_event(&mut alice, "presence_join", 1, "bob").await;
    join_chat(&mut carol, 2, &["carol"]).await;
    carol.emit("join_chat", json!({ "chat_id": 101 })).await.unwrap();
    assert_eq!(
        expect(&mut carol, "error").await,
        json!({ "type": "forbidden", "room": "chat|101" })
    );

    // The user room comes from the session.
    join(&mut carol, "user", json!({ "name": "alice" }), "user|carol").await;

    // A member's message reaches the chat, not the others.
    let ack = alice
        .emit_with_ack("send_message", json!({ "chat_id": 1, "text": "hi bob" }), WAIT)
        .await
        .unwrap();
    assert_eq!(ack, [json!({ "sent": true })]);
    let message = json!({ "chat_id": 1, "user": "alice", "text": "hi bob" });
    assert_eq!(expect(&mut alice, "message_sent").await, message);
    assert_eq!(expect(&mut bob, "message_sent").await, message);
    silent(&mut carol).await;

    // A non-member cannot post into a chat.
    carol
        .emit("send_message", json!({ "chat_id": 1, "text": "let me in" }))
        .await
        .unwrap();
    assert_eq!(
        expect(&mut carol, "error").await,
        json!({ "type": "forbidden", "room": "chat|1" })
    );
    silent(&mut alice).await;

    // The HTTP endpoint broadcasts the same event.
    let (status, body) = http_request(
        &url,
        "POST",
        "/chats/2/messages",
        &json!({ "user": "ops", "text": "maintenance" }),
    )
    .await;
    assert_eq!((status, body), (202, json!({ "sent": true })));
    assert_eq!(
        expect(&mut carol, "message_sent").await,
        json!({ "chat_id": 2, "user": "ops", "text": "maintenance" })
    );
    silent(&mut alice).await;

    // `update_chat` carries the resource, and is skipped for archived chats.
    let (status, body) = http_request(&url, "PUT", "/chats/1", &json!({ "title": "Rust" })).await;
    assert_eq!((status, body), (202, json!({ "sent": true })));
    assert_eq!(
        expect(&mut bob, "update_chat").await,
        json!({ "id": 1, "title": "Rust" })
    );
    let (status, body) = http_request(
        &url,
        "PUT",
        "/chats/1",
        &json!({ "title": "Old", "archived": true }),
    )
    .await;
    assert_eq!((status, body), (202, json!({ "sent": false })));
    silent(&mut bob).await;

    // Bob goes: Alice, who got the update too, sees him leave.
    assert_eq!(
        expect(&mut alice, "update_chat").await,
        json!({ "id": 1, "title": "Rust" })
    );
    bob.disconnect().await.expect("bob disconnects");
    presence_event(&mut alice, "presence_leave", 1, "bob").await;
    silent(&mut carol).await;
}
