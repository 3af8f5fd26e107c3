//! Presence: who is in a room, keyed by user, with real clients against a
//! real server.

mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use common::*;
use fast_app::prelude::*;
use fast_app::{PresenceError, presence};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use socketio_test_client::Client;

// ---- the application under test ------------------------------------------------------

#[namespace("/", connect = authenticate)]
#[rooms(ChatRoom, LobbyRoom)]
struct Root;

#[namespace("/admin", connect = authenticate)]
#[rooms(AdminChatRoom)]
struct Admin;

/// The chats of `/admin`: the same room names as `/`'s, other rooms.
#[derive(Clone, Room, Deserialize, JsonSchema)]
#[room(key = "chat", presence = Self::member)]
struct AdminChatRoom {
    chat_id: u64,
}

impl AdminChatRoom {
    async fn member(&self, session: &Session) -> Option<Member> {
        ChatRoom {
            chat_id: self.chat_id,
        }
        .member(session)
        .await
    }
}

/// A chat keeping presence; chat 13 is closed to everyone.
#[derive(Clone, Room, Deserialize, JsonSchema)]
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
    let members: Vec<Value> = members.iter().map(|name| member(name)).collect();
    join_presence(client, "chat", chat(id), &format!("chat|{id}"), &members).await;
}

/// Leaves through `leave_<key>` and checks the `left` reply.
async fn leave(client: &mut Client, key: &str, payload: Value, room: &str) {
    client
        .emit(&format!("leave_{key}"), payload)
        .await
        .expect("emit leave");
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

/// Bob, then Alice, in chat `id` of `srv`: Alice got both, Bob her join.
async fn bob_then_alice(srv: &TestServer, id: u64) -> (Client, Client) {
    let mut bob = srv.client("bob").await;
    join_chat(&mut bob, id, &["bob"]).await;
    let mut alice = srv.client("alice").await;
    join_chat(&mut alice, id, &["alice", "bob"]).await;
    expect_join(&mut bob, id, "alice").await;
    (bob, alice)
}

/// The ids of chat `id`'s members, asked of `srv`'s broadcaster.
async fn members_of(srv: &TestServer, id: u64) -> Vec<String> {
    ids(srv
        .server
        .broadcaster()
        .presence(&ChatRoom { chat_id: id })
        .await
        .unwrap())
}

fn ids(members: Vec<Member>) -> Vec<String> {
    members.iter().map(|m| m.id().to_owned()).collect()
}

// ---- on the in-process adapter -----------------------------------------------------

#[tokio::test]
async fn a_joiner_gets_the_members_and_the_others_get_it_once_per_user() {
    let srv = TestServer::start().await;
    let (mut bob, mut alice) = bob_then_alice(&srv, 1).await;

    // Alice's second tab: one member still, nobody is told.
    let mut alice_2 = srv.client("alice").await;
    join_chat(&mut alice_2, 1, &["alice", "bob"]).await;
    silent(&mut bob).await;
    silent(&mut alice).await;
    assert_eq!(members_of(&srv, 1).await, ["alice", "bob"]);

    // One tab leaves: Alice is still there.
    leave(&mut alice, "chat", chat(1), "chat|1").await;
    silent(&mut bob).await;
    // The last one disconnects: Alice has gone.
    alice_2.disconnect().await.expect("disconnects");
    expect_leave(&mut bob, 1, "alice").await;
    silent(&mut alice).await;
    assert_eq!(members_of(&srv, 1).await, ["bob"]);
}

#[tokio::test]
async fn a_second_join_of_the_same_connection_changes_nothing() {
    let srv = TestServer::start().await;
    let (mut bob, mut alice) = bob_then_alice(&srv, 2).await;
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
    assert!(members_of(&srv, 13).await.is_empty());
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
async fn a_client_cannot_choose_what_others_see_of_it() {
    let srv = TestServer::start().await;
    let mut bob = srv.client("bob").await;
    join_chat(&mut bob, 6, &["bob"]).await;
    // Member fields in the join payload are not the room's: ignored.
    let mut mallory = srv.client("mallory").await;
    let claim = json!({ "chat_id": 6, "id": "admin", "info": { "name": "ADMIN" }, "member": "admin" });
    join(&mut mallory, "chat", claim, "chat|6").await;
    assert_eq!(
        expect(&mut mallory, "presence_state").await,
        json!({ "room": "chat|6", "members": [member("bob"), member("mallory")] })
    );
    expect_join(&mut bob, 6, "mallory").await;
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

// ---- across servers, through Redis ----------------------------------------------------

mod across_redis {
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use fast_app::redis::RedisConfig;
    use fast_app::{Broadcaster, Server};
    use std::io::{BufRead, BufReader};

    use super::*;

    use super::redis_server::RedisServer;

    /// The presence timeout of these tests: a killed server's members are gone within it.
    const PRESENCE_TIMEOUT: Duration = Duration::from_secs(2);

    fn config(redis: &RedisServer, prefix: &str) -> RedisConfig {
        RedisConfig::new(redis.url())
            .with_prefix(prefix)
            .with_timeout(Duration::from_secs(1))
            .with_presence_timeout(PRESENCE_TIMEOUT)
    }

    async fn node(config: &RedisConfig) -> String {
        let server = Server::builder()
            .install_broadcaster(false)
            .build_redis(config)
            .await
            .expect("redis-mode server builds");
        serve_on_loopback(axum::Router::new().layer(server.layer())).await
    }

    async fn client(url: &str, name: &str) -> Client {
        Client::builder(url)
            .auth(json!({ "token": name }))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{name} connects: {e}"))
    }

    /// Applies presence events as a client keeps them (`presence_state`
    /// replaces the members, `presence_join` adds one, `presence_leave`
    /// removes one) until the client's view of `room` is `names`.
    async fn view_until(client: &mut Client, room: &str, names: &[&str], wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        let mut view = std::collections::BTreeSet::new();
        while view.iter().map(String::as_str).ne(names.iter().copied()) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = client
                .next_event(left)
                .await
                .unwrap_or_else(|e| panic!("the view of {room} stayed {view:?}: {e}"));
            let body = event.args.into_iter().next().unwrap_or(Value::Null);
            if body["room"] != room {
                continue;
            }
            let id = |member: &Value| member["id"].as_str().unwrap_or_default().to_owned();
            match event.name.as_str() {
                "presence_state" => {
                    view = body["members"].as_array().into_iter().flatten().map(id).collect();
                }
                "presence_join" => {
                    view.insert(id(&body["member"]));
                }
                "presence_leave" => {
                    view.remove(&id(&body["member"]));
                }
                _ => {}
            }
        }
    }

    /// The next event, which must be `name`, waiting up to `wait`.
    async fn expect_within(client: &mut Client, name: &str, wait: Duration) -> Value {
        let event = client
            .next_event(wait)
            .await
            .unwrap_or_else(|e| panic!("waiting for `{name}`: {e}"));
        assert_eq!(event.name, name, "unexpected event {event:?}");
        event.args.into_iter().next().unwrap_or(Value::Null)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_user_with_tabs_on_two_servers_is_one_member_and_the_emitter_sees_it() {
        let redis = RedisServer::start();
        let config = config(&redis, "presence-two");
        let (a, b) = (node(&config).await, node(&config).await);
        let mut bob = client(&b, "bob").await;
        join_chat(&mut bob, 1, &["bob"]).await;

        let mut alice_a = client(&a, "alice").await;
        join_chat(&mut alice_a, 1, &["alice", "bob"]).await;
        expect_join(&mut bob, 1, "alice").await;
        let mut alice_b = client(&b, "alice").await;
        join_chat(&mut alice_b, 1, &["alice", "bob"]).await;
        silent(&mut bob).await;
        silent(&mut alice_a).await;

        // A process that runs no server reads the members too.
        let emitter = Broadcaster::redis_emitter(&config).await.unwrap();
        let room = ChatRoom { chat_id: 1 };
        assert_eq!(ids(emitter.presence(&room).await.unwrap()), ["alice", "bob"]);

        // The tab on A goes: Alice is still there, through B.
        alice_a.disconnect().await.expect("disconnects");
        silent(&mut bob).await;
        // The tab on B goes: everyone, on every server, hears it.
        leave(&mut alice_b, "chat", chat(1), "chat|1").await;
        expect_leave(&mut bob, 1, "alice").await;
        assert_eq!(ids(emitter.presence(&room).await.unwrap()), ["bob"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn once_a_join_is_acknowledged_the_next_joiner_on_another_server_sees_it() {
        let redis = RedisServer::start();
        let config = config(&redis, "presence-acked");
        let (a, b) = (node(&config).await, node(&config).await);
        let (alice, mut bob) = (client(&a, "alice").await, client(&b, "bob").await);
        for id in 20..40 {
            // No waiting for Alice's `presence_state`: the acknowledgement is enough.
            let ack = alice.emit_with_ack("join_chat", chat(id), WAIT).await.unwrap();
            assert_eq!(ack, [json!({ "room": format!("chat|{id}") })]);
            bob.emit("join_chat", chat(id)).await.unwrap();
            // Alice's `presence_join` may reach Bob too, before or after his
            // `joined`: he is in the room from then on.
            let state = bob.next_event_named("presence_state", WAIT).await.unwrap();
            assert_eq!(
                state.args[0],
                json!({ "room": format!("chat|{id}"), "members": [member("alice"), member("bob")] })
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_a_redis_restart_every_server_registers_its_members_again() {
        let mut redis = RedisServer::start();
        let config = config(&redis, "presence-restart");
        let (a, b) = (node(&config).await, node(&config).await);
        let mut alice = client(&a, "alice").await;
        join_chat(&mut alice, 2, &["alice"]).await;
        let mut bob = client(&b, "bob").await;
        join_chat(&mut bob, 2, &["alice", "bob"]).await;
        expect_join(&mut alice, 2, "bob").await;

        // Redis goes: a joiner is in the room, and told its members are
        // unknown, within the Redis timeout.
        redis.stop();
        let mut carol = client(&a, "carol").await;
        join(&mut carol, "chat", chat(2), "chat|2").await;
        assert_eq!(
            expect(&mut carol, "error").await,
            json!({ "type": "presence_unavailable", "room": "chat|2" })
        );

        // Redis comes back empty: each server registers its members again
        // (Carol too), announces them, and then sends its own sockets the
        // members afresh, for what pub/sub dropped while servers subscribed
        // again. Every client's view, built as the guide says, is whole.
        redis.restart();
        for client in [&mut alice, &mut bob, &mut carol] {
            view_until(client, "chat|2", &["alice", "bob", "carol"], PRESENCE_TIMEOUT * 4).await;
        }
        let emitter = Broadcaster::redis_emitter(&config).await.unwrap();
        assert_eq!(
            ids(emitter.presence(&ChatRoom { chat_id: 2 }).await.unwrap()),
            ["alice", "bob", "carol"]
        );
    }

    /// A Redis-mode server in a process of its own: this test binary run as
    /// `crash_child` with the Redis URL and prefix in its environment. It
    /// prints its URL, then serves until killed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "run by a_killed_server_s_members_leave_within_the_presence_timeout, in a child process"]
    async fn crash_child() {
        let url = std::env::var("PRESENCE_CHILD_REDIS").expect("run by the crash test");
        let prefix = std::env::var("PRESENCE_CHILD_PREFIX").expect("run by the crash test");
        let config = RedisConfig::new(url)
            .with_prefix(prefix)
            .with_timeout(Duration::from_secs(1))
            .with_presence_timeout(PRESENCE_TIMEOUT);
        let url = node(&config).await;
        println!("serving {url}");
        std::future::pending::<()>().await;
    }

    /// Kills the child on drop, whatever the test's outcome.
    struct Killed(Child);

    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_server_s_members_leave_within_the_presence_timeout() {
        let redis = RedisServer::start();
        let prefix = "presence-crash";
        let a = node(&config(&redis, prefix)).await;
        let mut child = Killed(
            Command::new(std::env::current_exe().expect("this test binary"))
                .args(["across_redis::crash_child", "--exact", "--ignored", "--nocapture"])
                .env("PRESENCE_CHILD_REDIS", redis.url())
                .env("PRESENCE_CHILD_PREFIX", prefix)
                .stdout(Stdio::piped())
                .spawn()
                .expect("the child server starts"),
        );
        let stdout = child.0.stdout.take().expect("the child's output");
        let serving = tokio::task::spawn_blocking(move || {
            // The test harness prints its own lines first.
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .find_map(|line| line.strip_prefix("serving ").map(str::to_owned))
        });
        let b = tokio::time::timeout(WAIT * 2, serving)
            .await
            .expect("the child serves in time")
            .expect("the reader ends")
            .expect("the child prints its URL");

        let mut bob = client(&a, "bob").await;
        join_chat(&mut bob, 3, &["bob"]).await;
        let mut alice = client(&b, "alice").await;
        join_chat(&mut alice, 3, &["alice", "bob"]).await;
        expect_join(&mut bob, 3, "alice").await;

        // kill -9: no disconnect runs, nothing is unregistered by the child.
        child.0.kill().expect("SIGKILL");
        child.0.wait().expect("the child is gone");
        let left = expect_within(&mut bob, "presence_leave", PRESENCE_TIMEOUT * 2).await;
        assert_eq!(left, json!({ "room": "chat|3", "member": member("alice") }));
        let emitter = Broadcaster::redis_emitter(&config(&redis, prefix)).await.unwrap();
        assert_eq!(
            ids(emitter.presence(&ChatRoom { chat_id: 3 }).await.unwrap()),
            ["bob"]
        );
    }
}
