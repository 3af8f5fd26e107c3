//! Every macro and every attribute key under strict lints: the generated code
//! adds no lint of its own (unused items or qualifications, missing docs,
//! needless `pub`, elided or unused lifetimes, unsafe code).
#![deny(
    warnings,
    missing_docs,
    unused,
    unreachable_pub,
    unused_qualifications,
    elided_lifetimes_in_paths,
    single_use_lifetimes,
    unused_lifetimes,
    trivial_casts,
    trivial_numeric_casts
)]
#![forbid(unsafe_code)]

use fast_app::prelude::*;
use fast_app::socketioxide::adapter::Adapter;
use fast_app::socketioxide::extract::SocketRef;
use fast_app::socketioxide::socket::DisconnectReason;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

async fn authenticate(_session: &Session, _auth: &serde_json::Value) -> Result<(), ConnectError> {
    Ok(())
}

async fn goodbye(_session: &Session, _reason: DisconnectReason) {}

fn custom<A: Adapter>(socket: &SocketRef<A>) {
    socket.on("ping", async || {});
}

async fn welcome<A: Adapter>(_session: &Session, socket: &SocketRef<A>) {
    let _ = socket.emit("welcome", &());
}

/// The root namespace.
#[namespace("/", connect = authenticate, connected = welcome, disconnect = goodbye, handlers = custom)]
#[rooms(ChatRoom, MemberRoom, LobbyRoom, PairRoom)]
pub struct GlobalNamespace;

/// A chat.
#[derive(Room, Deserialize, JsonSchema)]
#[room(
    key = "talk",
    can_join = Self::can_join,
    on_join = Self::joined,
    on_leave = Self::left,
    presence = Self::member
)]
pub struct ChatRoom {
    /// Its id.
    pub chat_id: u64,
}

impl ChatRoom {
    async fn can_join(&self, _session: &Session) -> bool {
        true
    }
    async fn joined(&self, _session: &Session) {}
    async fn left(&self, _session: &Session) {}
    async fn member(&self, _session: &Session) -> Option<Member> {
        None
    }
}

/// The user's own room.
#[derive(Room)]
#[room(extract = Self::mine)]
pub struct MemberRoom {
    /// The user.
    pub name: String,
}

impl MemberRoom {
    async fn mine(_session: &Session, _payload: serde_json::Value) -> Result<Self, ValidationError> {
        Ok(Self { name: "me".into() })
    }
}

/// Everyone.
#[derive(Room)]
pub struct LobbyRoom;

/// A pair.
#[derive(Room, Deserialize, JsonSchema)]
pub struct PairRoom(pub u32, pub String);

/// An update.
#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(on = ChatRoom { chat_id: self.id }, when = self.id > 0)]
pub struct UpdateChat {
    /// The chat id.
    pub id: u64,
}

/// The resource of a chat.
#[derive(Serialize, JsonSchema)]
pub struct ChatResource {
    /// The chat id.
    pub id: u64,
}

/// Another update.
#[derive(BroadcastEvent)]
#[broadcast(name = "chat.renamed", on = [LobbyRoom], as = ChatResource { id: self.id })]
pub struct RenameChat {
    /// The chat id.
    pub id: u64,
}

async fn chats_of(user: u64) -> Vec<ChatRoom> {
    vec![ChatRoom { chat_id: user }]
}

/// A notice to a user's chats and to the lobby, whose rooms the contract
/// cannot read from `on`.
#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(
    on = Targets::new().with(chats_of(self.user).await).with("lobby"),
    rooms = [ChatRoom, "lobby"]
)]
pub struct Notice {
    /// The user.
    pub user: u64,
}

fn main() {}
