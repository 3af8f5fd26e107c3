//! Presence: who is in a room, keyed by user, with real clients against a
//! real server.

mod common;

use common::*;
use fast_app::prelude::*;
use fast_app::{PresenceError, presence};
use serde::Deserialize;
use serde_json::{Value, json};
use socketio_test_client::Client;

// ---- the application under test ------------------------------------------------------

#[derive(Clone)]
struct User(String);

async fn authenticate(session: &Session, auth: &Value) -> Result<(), ConnectError> {
    match auth.get("token").and_then(Value::as_str) {
        Some(token) if !token.is_empty() => {
            session.insert(User(token.to_owned()));
            Ok(())
        }
        _ => Err(ConnectError::new("No access token provided")),
    }
}

#[namespace("/", connect = authenticate)]
#[rooms(ChatRoom, LobbyRoom)]
struct Root;

#[namespace("/admin", connect = authenticate)]
#[rooms(AdminChatRoom)]
struct Admin;

/// The chats of `/admin`: the same room names as `/`'s, other rooms.
#[derive(Clone, Room, Deserialize)]
#[room(key = "chat", presence = Self::member)]
struct AdminChatRoom {
    chat_id: u64,
}

impl AdminChatRoom {
    async fn member(&self, session: &Session) -> Option<Member> {
        ChatRoom { chat_id: self.chat_id }.member(session).await
    }
}

/// A chat keeping presence; chat 13 is closed to everyone.
#[derive(Clone, Room, Deserialize)]
#[room(presence = Self::member, can_join = Self::open)]
struct ChatRoom {
    chat_id: u64,
}

impl ChatRoom {
    /// A user shows its name, upper-cased; `ghost` shows nothing.
    async fn member(&self, session: &Session) -> Option<Member> {
        let User(name) = session.get::<User>()?;
        (name != "ghost").then(|| Member::new(&name, json!({ "name": name.to_uppercase() })))
    }

    async fn open(&self, _session: &Session) -> bool {
        self.chat_id != 13
    }
}

/// A room without presence.
#[derive(Clone, Room)]
struct LobbyRoom;

fn member(name: &str) -> Value {
    json!({ "id": name, "info": { "name": name.to_uppercase() } })
}

fn chat(id: u64) -> Value {
    json!({ "chat_id": id })
}

/// Joins chat `id`, and checks `joined` then `presence_state` with `members`.
async fn join_chat(client: &mut Client, id: u64, members: &[&str]) {
    join(client, "chat", chat(id), &format!("chat|{id}")).await;
    let members: Vec<Value> = members.iter().map(|name| member(name)).collect();
    assert_eq!(
        expect(client, "presence_state").await,
        json!({ "room": format!("chat|{id}"), "members": members })
    );
}

/// Leaves through `leave_<key>` and checks the `left` reply.
async fn leave(client: &mut Client, key: &str, payload: Value, room: &str) {
    client.emit(&format!("leave_{key}"), payload).await.expect("emit leave");
    assert_eq!(expect(client, "left").await, json!({ "room": room }));
}

async fn expect_join(client: &mut Client, id: u64, name: &str) {
    assert_eq!(
        expect(client, "presence_join").await,
        json!({ "room": format!("chat|{id}"), "member": member(name) })
    );
}

async fn expect_leave(client: &mut Client, id: u64, name: &str) {
    assert_eq!(
        expect(client, "presence_leave").await,
        json!({ "room": format!("chat|{id}"), "member": member(name) })
    );
}

fn ids(members: Vec<Member>) -> Vec<String> {
    members.iter().map(|m| m.id().to_owned()).collect()
}

// ---- on the in-process adapter -----------------------------------------------------

#[tokio::test]
async fn a_joiner_gets_the_members_and_the_others_get_it_once_per_user() {
    let srv = TestServer::start().await;
    let mut bob = srv.client("bob").await;
    join_chat(&mut bob, 1, &["bob"]).await;

    let mut alice = srv.client("alice").await;
    join_chat(&mut alice, 1, &["alice", "bob"]).await;
    expect_join(&mut bob, 1, "alice").await;

    // Alice's second tab: one member still, nobody is told.
    let mut alice_2 = srv.client("alice").await;
    join_chat(&mut alice_2, 1, &["alice", "bob"]).await;
    silent(&mut bob).await;
    silent(&mut alice).await;
    assert_eq!(
        ids(srv.server.broadcaster().presence(&ChatRoom { chat_id: 1 }).await.unwrap()),
        ["alice", "bob"]
    );

    // One tab leaves: Alice is still there.
    leave(&mut alice, "chat", chat(1), "chat|1").await;
    silent(&mut bob).await;
    // The last one disconnects: Alice has gone.
    alice_2.disconnect().await.expect("disconnects");
    expect_leave(&mut bob, 1, "alice").await;
    silent(&mut alice).await;
    assert_eq!(
        ids(srv.server.broadcaster().presence(&ChatRoom { chat_id: 1 }).await.unwrap()),
        ["bob"]
    );
}

#[tokio::test]
async fn a_second_join_of_the_same_connection_changes_nothing() {
    let srv = TestServer::start().await;
    let mut bob = srv.client("bob").await;
    join_chat(&mut bob, 2, &["bob"]).await;
    let mut alice = srv.client("alice").await;
    join_chat(&mut alice, 2, &["alice", "bob"]).await;
    expect_join(&mut bob, 2, "alice").await;
    join_chat(&mut alice, 2, &["alice", "bob"]).await;
    silent(&mut bob).await;
    // One leave is enough: the connection was counted once.
    leave(&mut alice, "chat", chat(2), "chat|2").await;
    expect_leave(&mut bob, 2, "alice").await;
}

#[tokio::test]
async fn a_refused_joiner_learns_nothing_and_is_not_shown() {
    let srv = TestServer::start().await;
    let mut mallory = srv.client("mallory").await;
    mallory.emit("join_chat", chat(13)).await.unwrap();
    assert_eq!(
        expect(&mut mallory, "error").await,
        json!({ "type": "forbidden", "room": "chat|13" })
    );
    silent(&mut mallory).await;
    assert!(
        srv.server
            .broadcaster()
            .presence(&ChatRoom { chat_id: 13 })
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_session_showing_no_member_sees_the_others_and_is_not_seen() {
    let srv = TestServer::start().await;
    let mut bob = srv.client("bob").await;
    join_chat(&mut bob, 3, &["bob"]).await;
    let mut ghost = srv.client("ghost").await;
    join_chat(&mut ghost, 3, &["bob"]).await;
    silent(&mut bob).await;
    ghost.disconnect().await.expect("disconnects");
    silent(&mut bob).await;
    let mut alice = srv.client("alice").await;
    join_chat(&mut alice, 3, &["alice", "bob"]).await;
    expect_join(&mut bob, 3, "alice").await;
}

#[tokio::test]
async fn a_room_without_presence_sends_no_presence_events() {
    let srv = TestServer::start().await;
    let mut bob = srv.client("bob").await;
    join(&mut bob, "lobby", Value::Null, "lobby").await;
    let mut alice = srv.client("alice").await;
    join(&mut alice, "lobby", Value::Null, "lobby").await;
    alice.disconnect().await.expect("disconnects");
    silent(&mut bob).await;
}

#[tokio::test]
async fn the_same_room_in_two_namespaces_has_its_own_members() {
    let srv = TestServer::start().await;
    let mut bob = srv.client("bob").await;
    join_chat(&mut bob, 4, &["bob"]).await;
    let mut alice = srv.client_of("/admin", "alice").await;
    join_chat(&mut alice, 4, &["alice"]).await;
    silent(&mut bob).await;
}

#[tokio::test]
async fn members_are_asked_of_the_installed_broadcaster_and_only_of_one_that_keeps_them() {
    let srv = TestServer::start().await;
    let mut carol = srv.client("carol").await;
    join_chat(&mut carol, 5, &["carol"]).await;
    let room = ChatRoom { chat_id: 5 };
    let members = srv.server.broadcaster().scope(presence(&room)).await.unwrap();
    assert_eq!(members, [Member::new("carol", json!({ "name": "CAROL" }))]);

    let (recording, _) = Broadcaster::recording();
    assert!(matches!(
        recording.presence(&room).await,
        Err(PresenceError::NotKept)
    ));
}
