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

#[namespace("/", connect = authenticate, connected = welcome, disconnect = goodbye, handlers = custom)]
#[rooms(ChatRoom, MemberRoom, LobbyRoom, PairRoom)]
pub struct GlobalNamespace;

#[namespace("/admin")]
#[rooms(AuditRoom)]
pub struct AdminNamespace;

#[derive(Clone, Room, Deserialize, JsonSchema)]
#[room(can_join = Self::can_join, on_join = Self::joined, on_leave = Self::left, presence = Self::member, history = 50)]
pub struct ChatRoom {
    pub chat_id: u64,
}

impl ChatRoom {
    async fn can_join(&self, _session: &Session) -> bool {
        true
    }
    async fn joined(&self, _session: &Session) {}
    async fn left(&self, _session: &Session) {}
    async fn member(&self, _session: &Session) -> Option<Member> {
        Some(Member::new(self.chat_id, serde_json::json!({ "name": "me" })))
    }
}

#[derive(Clone, Room)]
#[room(key = "member", extract = member_from_session, payload = MemberJoin)]
pub struct MemberRoom {
    pub name: String,
}

/// What `join_member` carries, for the client contract.
#[derive(JsonSchema)]
pub struct MemberJoin {
    pub invited_by: Option<String>,
}

async fn member_from_session(_session: &Session, _payload: serde_json::Value) -> Result<MemberRoom, String> {
    Ok(MemberRoom { name: "me".into() })
}

#[derive(Clone, Room, Deserialize)]
pub struct LobbyRoom;

#[derive(Clone, Room, Deserialize, JsonSchema)]
pub struct PairRoom(pub u32, pub String);

#[derive(Clone, Room, Deserialize, JsonSchema)]
pub struct AuditRoom {
    pub area: String,
}

#[derive(Serialize, JsonSchema)]
pub struct Chat {
    pub id: u64,
    pub archived: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct ChatResource<'a> {
    pub id: u64,
    pub chat: &'a Chat,
}

async fn find_room(id: u64) -> ChatRoom {
    ChatRoom { chat_id: id }
}

#[derive(BroadcastEvent)]
#[broadcast(
    name = "chat.updated",
    on = find_room(self.chat.id).await,
    rooms = [ChatRoom],
    as = ChatResource { id: self.chat.id, chat: &self.chat },
    when = !self.chat.archived,
)]
pub struct UpdateChat {
    pub chat: Chat,
}

#[derive(BroadcastEvent, Serialize, JsonSchema)]
pub struct DefaultsEvent {
    pub n: u8,
}

#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(on = "lobby")]
pub struct ToStr;

#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(on = format!("room-{}", self.0), rooms = ["room-1", "room-2"])]
pub struct ToString(pub u8);

#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(on = Some(ChatRoom { chat_id: 1 }))]
pub struct ToOption;

#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(on = vec![ChatRoom { chat_id: 1 }, ChatRoom { chat_id: 2 }])]
pub struct ToVec;

#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(on = [LobbyRoom, LobbyRoom])]
pub struct ToArray;

#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(on = self.rooms.as_slice(), rooms = ["lobby", "hall"])]
pub struct ToSlice {
    pub rooms: Vec<String>,
}

#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(on = Targets::new()
    .with("lobby")
    .with(AuditRoom { area: "billing".into() })
    .with(fast_app::Target::new("/admin", "all")),
    rooms = ["lobby", AuditRoom],
)]
pub struct ToMixed;

// Generic: left out of the client contract, so no `JsonSchema` is required.
#[derive(BroadcastEvent, Serialize)]
#[broadcast(on = PairRoom(1, "a".into()))]
pub struct Generic<T: Serialize + Send + Sync> {
    pub value: T,
}

/// The members of a presence room, from any server code.
pub async fn members() -> Result<Vec<Member>, fast_app::PresenceError> {
    fast_app::presence(&ChatRoom { chat_id: 1 }).await
}

fn main() {}
