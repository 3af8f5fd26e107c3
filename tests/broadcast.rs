//! `broadcast(&event)` semantics through the derive, observed with the
//! recording broadcaster and failing transports: no server involved.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use fast_app::prelude::*;
use fast_app::{BroadcastError, Recorded, SocketId, Target, Transport};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;

#[namespace("/")]
#[rooms(ChatRoom)]
struct Root;

#[namespace("/admin")]
#[rooms(AuditRoom)]
struct Admin;

#[derive(Clone, Room, Deserialize, JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

#[derive(Clone, Room, Deserialize, JsonSchema)]
struct AuditRoom {
    area: String,
}

fn recorded(event: &str, namespace: &str, rooms: &[&str], payload: serde_json::Value) -> Recorded {
    Recorded {
        event: event.to_owned(),
        namespace: namespace.to_owned(),
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        payload,
        except: None,
    }
}

async fn record<E: BroadcastEvent>(event: &E) -> (Result<bool, BroadcastError>, Vec<Recorded>) {
    let (broadcaster, recording) = Broadcaster::recording();
    let result = broadcaster.broadcast(event).await;
    (result, recording.take())
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
struct UpdateChat {
    id: u64,
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
struct ChatUpdatedEvent {
    id: u64,
}

#[tokio::test]
async fn defaults_name_in_snake_case_target_the_name_in_root_and_send_the_event_itself() {
    assert_eq!(<UpdateChat as BroadcastEvent>::NAME, "update_chat");
    assert_eq!(<ChatUpdatedEvent as BroadcastEvent>::NAME, "chat_updated");
    let (result, sent) = record(&UpdateChat { id: 7 }).await;
    assert!(result.unwrap());
    assert_eq!(
        sent,
        [recorded("update_chat", "/", &["update_chat"], json!({ "id": 7 }))]
    );
}

#[derive(BroadcastEvent)]
#[broadcast(name = "chat.renamed", on = ChatRoom { chat_id: self.id }, as = json!({ "title": self.title }))]
struct Renamed {
    id: u64,
    title: String,
}

#[tokio::test]
async fn name_on_and_as_are_used() {
    let (result, sent) = record(&Renamed {
        id: 3,
        title: "Rust".into(),
    })
    .await;
    assert!(result.unwrap());
    assert_eq!(
        sent,
        [recorded(
            "chat.renamed",
            "/",
            &["chat|3"],
            json!({ "title": "Rust" })
        )]
    );
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = "lobby", when = self.visible)]
struct Maybe {
    visible: bool,
}

#[tokio::test]
async fn when_false_skips_and_sends_nothing() {
    let (result, sent) = record(&Maybe { visible: false }).await;
    assert!(!result.unwrap());
    assert!(sent.is_empty());
    let (result, sent) = record(&Maybe { visible: true }).await;
    assert!(result.unwrap());
    assert_eq!(sent.len(), 1);
}

async fn lookup_chat(id: u64) -> Option<ChatRoom> {
    tokio::task::yield_now().await;
    (id != 0).then_some(ChatRoom { chat_id: id })
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = lookup_chat(self.id).await, rooms = [ChatRoom], when = { tokio::task::yield_now().await; true })]
struct Looked {
    id: u64,
}

#[tokio::test]
async fn on_and_when_may_await_and_no_target_skips() {
    let (result, sent) = record(&Looked { id: 5 }).await;
    assert!(result.unwrap());
    assert_eq!(sent[0].rooms, ["chat|5"]);
    let (result, sent) = record(&Looked { id: 0 }).await;
    assert!(!result.unwrap(), "None targets nothing: skipped");
    assert!(sent.is_empty());
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = self.ids.iter().map(|&chat_id| ChatRoom { chat_id }).collect::<Vec<_>>(), rooms = [ChatRoom])]
struct ToMany {
    ids: Vec<u64>,
}

#[tokio::test]
async fn a_vec_of_rooms_is_one_emit_with_each_room_once() {
    let (result, sent) = record(&ToMany {
        ids: vec![1, 2, 1, 3],
    })
    .await;
    assert!(result.unwrap());
    assert_eq!(sent.len(), 1, "one emit per namespace");
    assert_eq!(sent[0].rooms, ["chat|1", "chat|2", "chat|3"]);
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = [ChatRoom { chat_id: 1 }, ChatRoom { chat_id: 2 }])]
struct ToArray {}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = self.rooms.as_slice(), rooms = ["a", "b"])]
struct ToSlice {
    rooms: Vec<String>,
}

#[tokio::test]
async fn arrays_and_slices_are_targets() {
    let (_, sent) = record(&ToArray {}).await;
    assert_eq!(sent[0].rooms, ["chat|1", "chat|2"]);
    let (_, sent) = record(&ToSlice {
        rooms: vec!["a".into(), "b".into()],
    })
    .await;
    assert_eq!(sent[0].rooms, ["a", "b"]);
    assert_eq!(sent[0].namespace, "/");
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = Targets::new()
    .with("lobby")
    .with(ChatRoom { chat_id: 9 })
    .with(AuditRoom { area: "billing".into() })
    .with(Target::new("/admin", "all")),
    rooms = ["lobby", ChatRoom, AuditRoom],
)]
struct Mixed {}

#[tokio::test]
async fn mixed_targets_emit_once_per_namespace_to_the_union_of_its_rooms() {
    let (result, sent) = record(&Mixed {}).await;
    assert!(result.unwrap());
    assert_eq!(
        sent,
        [
            recorded("mixed", "/", &["lobby", "chat|9"], json!({})),
            recorded("mixed", "/admin", &["audit|billing", "all"], json!({})),
        ]
    );
}

#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = AuditRoom { area: self.area.clone() })]
struct Audit {
    area: String,
}

#[tokio::test]
async fn an_identifier_with_the_separator_is_an_error_not_an_aliasing_name() {
    let (result, sent) = record(&Audit { area: "a|b".into() }).await;
    match result {
        Err(BroadcastError::InvalidRoom(e)) => {
            assert_eq!((e.key, e.value.as_str()), ("audit", "a|b"));
        }
        other => panic!("expected an invalid room error, got {other:?}"),
    }
    assert!(sent.is_empty());
}

#[derive(BroadcastEvent)]
#[broadcast(on = "lobby", as = &self.map)]
struct Unserializable {
    map: BTreeMap<(u8, u8), u8>,
}

#[tokio::test]
async fn a_payload_that_cannot_be_serialized_is_an_error() {
    let event = Unserializable {
        map: BTreeMap::from([((1, 2), 3)]),
    };
    let (result, sent) = record(&event).await;
    assert!(matches!(result, Err(BroadcastError::Serialize { ref event, .. }) if event == "unserializable"));
    assert!(sent.is_empty());
}

/// Fails every emit to `/admin`, records the others.
struct FailAdmin(fast_app::Recording);

impl Transport for FailAdmin {
    fn emit<'a>(
        &'a self,
        namespace: &'a str,
        rooms: Vec<String>,
        except: Option<SocketId>,
        event: &'static str,
        payload: &'a RawValue,
    ) -> Pin<Box<dyn Future<Output = Result<(), BroadcastError>> + Send + 'a>> {
        if namespace == "/admin" {
            return Box::pin(async move {
                Err(BroadcastError::Transport {
                    event: event.to_owned(),
                    namespace: namespace.to_owned(),
                    source: "down".into(),
                })
            });
        }
        self.0.emit(namespace, rooms, except, event, payload)
    }
}

#[tokio::test]
async fn every_failed_part_is_reported_and_the_rest_still_sent() {
    let recording = fast_app::Recording::default();
    let broadcaster = Broadcaster::new(FailAdmin(recording.clone()));
    let result = broadcaster.broadcast(&Mixed {}).await;
    match result {
        Err(BroadcastError::Transport {
            namespace, source, ..
        }) => {
            assert_eq!(namespace, "/admin");
            assert_eq!(
                source.to_string(),
                "down",
                "the transport's error is kept as the source"
            );
        }
        other => panic!("expected the /admin failure, got {other:?}"),
    }
    assert_eq!(recording.take().len(), 1, "the `/` part was still sent");

    #[derive(Serialize, BroadcastEvent, JsonSchema)]
    #[broadcast(
        on = Targets::new().with(AuditRoom { area: "x|y".into() }).with(Target::new("/admin", "all")),
        rooms = [AuditRoom],
    )]
    struct TwoFailures {}
    let err = broadcaster.broadcast(&TwoFailures {}).await.unwrap_err();
    match &err {
        BroadcastError::Failed(errors) => assert_eq!(errors.len(), 2, "{err}"),
        other => panic!("expected both failures, got {other:?}"),
    }
}

#[tokio::test]
async fn the_global_broadcast_uses_the_scoped_broadcaster_and_errors_without_one() {
    // No server is built in this test binary: nothing is installed globally.
    assert!(matches!(
        fast_app::broadcast(&UpdateChat { id: 1 }).await,
        Err(BroadcastError::NoBroadcaster)
    ));
    let (broadcaster, recording) = Broadcaster::recording();
    let sent = broadcaster
        .scope(async { fast_app::broadcast(&UpdateChat { id: 2 }).await })
        .await;
    assert!(sent.unwrap());
    assert_eq!(recording.named("update_chat").len(), 1);
    assert!(
        fast_app::broadcast(&UpdateChat { id: 3 }).await.is_err(),
        "the scope ended"
    );
}

#[tokio::test]
async fn the_socket_left_out_is_recorded_with_every_emit() {
    let id: SocketId = "0123456789abcdef0123456789abcdef".parse().unwrap();
    let (broadcaster, recording) = Broadcaster::recording();
    // One room (the fast path) and several namespaces (the general path).
    assert!(
        broadcaster
            .broadcast(&UpdateChat { id: 1 })
            .except(id)
            .await
            .unwrap()
    );
    assert!(broadcaster.broadcast(&Mixed {}).except(id).await.unwrap());
    let sent = recording.take();
    assert!(sent.len() >= 3, "{sent:?}");
    assert!(sent.iter().all(|r| r.except == Some(id)), "{sent:?}");

    // The global broadcast takes it too; `None` leaves nobody out.
    broadcaster
        .scope(async { fast_app::broadcast(&UpdateChat { id: 2 }).except(id).await })
        .await
        .unwrap();
    broadcaster
        .scope(async { fast_app::broadcast(&UpdateChat { id: 3 }).except(None).await })
        .await
        .unwrap();
    let excepts: Vec<_> = recording.take().into_iter().map(|r| r.except).collect();
    assert_eq!(excepts, [Some(id), None]);
}
