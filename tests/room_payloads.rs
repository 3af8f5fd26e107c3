//! What a join payload may be, per kind of room: a real Socket.IO client over
//! loopback against a real server.

mod common;

use common::*;
use fast_app::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use socketio_test_client::Client;

#[derive(Clone, Debug)]
struct User(String);

async fn authenticate(session: &Session, auth: &Value) -> Result<(), ConnectError> {
    let token = auth.get("token").and_then(Value::as_str).unwrap_or_default();
    session.insert(User(token.to_owned()));
    Ok(())
}

#[namespace("/", connect = authenticate)]
#[rooms(ChatRoom, MemberRoom, AuditRoom, ArchiveRoom, TraceRoom)]
struct GlobalNamespace;

/// Fields from the payload.
#[derive(Room, Deserialize, JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

/// Identity from the session, whatever the payload.
#[derive(Room)]
#[room(key = "member", extract = Self::mine)]
struct MemberRoom {
    name: String,
}

impl MemberRoom {
    async fn mine(session: &Session, _payload: Value) -> Result<Self, ValidationError> {
        let user = session.get::<User>().ok_or("not signed in")?;
        Ok(Self { name: user.0 })
    }
}

/// No fields, no `Deserialize`: a unit struct.
#[derive(Room)]
struct AuditRoom;

/// No fields, no `Deserialize`: braces.
#[derive(Room)]
struct ArchiveRoom {}

/// No fields, no `Deserialize`: parentheses.
#[derive(Room)]
struct TraceRoom();

/// Emits `join_<key>` with `args` (none, or one payload) and returns the reply.
async fn join_with(client: &mut Client, key: &str, args: Vec<Value>) -> (String, Value) {
    client
        .emit_args(&format!("join_{key}"), args)
        .await
        .expect("emit join");
    let event = client.next_event(WAIT).await.expect("a reply to the join");
    (event.name, event.args.into_iter().next().unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_join_without_payload_null_or_an_empty_object_joins_a_session_room() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("payload-alice").await;
    for args in [vec![], vec![json!(null)], vec![json!({})]] {
        let reply = join_with(&mut alice, "member", args.clone()).await;
        assert_eq!(
            reply,
            ("joined".to_owned(), json!({ "room": "member|payload-alice" })),
            "args {args:?}"
        );
    }
}

#[tokio::test]
async fn a_join_without_payload_null_or_an_empty_object_joins_a_fieldless_room() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("fieldless-alice").await;
    for key in ["audit", "archive", "trace"] {
        for args in [vec![], vec![json!(null)], vec![json!({})]] {
            let reply = join_with(&mut alice, key, args.clone()).await;
            assert_eq!(
                reply,
                ("joined".to_owned(), json!({ "room": key })),
                "room {key}, args {args:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_fieldless_room_ignores_an_object_and_refuses_anything_else() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("fieldless-bob").await;
    let reply = join_with(&mut alice, "audit", vec![json!({ "area": "billing" })]).await;
    assert_eq!(reply, ("joined".to_owned(), json!({ "room": "audit" })));
    let (name, error) = join_with(&mut alice, "archive", vec![json!(42)]).await;
    assert_eq!(name, "error");
    assert_eq!(error["type"], json!("validation_error"));
    assert_eq!(
        error["msg"],
        json!(
            "join_archive expects no payload, `null` or `{}`: invalid type: integer `42`, expected no payload, `null` or `{}`"
        )
    );
}

#[tokio::test]
async fn a_wrong_payload_says_what_the_room_expects() {
    let srv = TestServer::start().await;
    let mut alice = srv.client("expects-alice").await;
    for args in [
        vec![],
        vec![json!(null)],
        vec![json!({})],
        vec![json!({ "chat": 1 })],
    ] {
        let (name, error) = join_with(&mut alice, "chat", args.clone()).await;
        assert_eq!(name, "error", "args {args:?}");
        assert_eq!(
            error,
            json!({
                "type": "validation_error",
                "msg": "join_chat expects {\"chat_id\": <integer>}: missing field `chat_id`",
            }),
            "args {args:?}"
        );
    }
    let (_, error) = join_with(&mut alice, "chat", vec![json!({ "chat_id": "seven" })]).await;
    assert_eq!(
        error["msg"],
        json!("join_chat expects {\"chat_id\": <integer>}: invalid type: string \"seven\", expected u64")
    );
    let reply = join_with(&mut alice, "chat", vec![json!({ "chat_id": 7 })]).await;
    assert_eq!(reply, ("joined".to_owned(), json!({ "room": "chat|7" })));
}
