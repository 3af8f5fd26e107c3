//! The chat's Socket.IO side: namespace, rooms and events.

use fast_app::prelude::*;
use fast_app::socketioxide::adapter::Adapter;
use fast_app::socketioxide::extract::{AckSender, SocketRef, TryData};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The connected user, stored in the session by [`authenticate`].
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
}

/// Takes the `auth.token` as the user's name (demo policy).
pub async fn authenticate(session: &Session, auth: &Value) -> Result<(), ConnectError> {
    match auth.get("token").and_then(Value::as_str) {
        Some(token) if !token.trim().is_empty() => {
            session.insert(User {
                name: token.trim().to_owned(),
            });
            // Who the user is, for resume tokens.
            session.identify(token.trim());
            Ok(())
        }
        _ => Err(ConnectError::new("No access token provided")),
    }
}

/// Tells a client who it is signed in as, once it is connected:
/// `welcome {"user": "<name>"}`, the first event it receives.
pub async fn welcome<A: Adapter>(session: &Session, socket: &SocketRef<A>) {
    if let Some(user) = session.get::<User>() {
        let _ = socket.emit("welcome", &json!({ "user": user.name }));
    }
}

#[namespace("/", connect = authenticate, connected = welcome, handlers = chat_handlers)]
#[rooms(ChatRoom, UserRoom)]
pub struct GlobalNamespace;

/// A chat's room, `chat|<id>`: chats 1 to 100 are open to every user, and
/// each shows who is in it.
#[derive(Debug, Clone, Room, Deserialize, JsonSchema)]
#[room(can_join = Self::can_join, presence = Self::member, history = 100)]
pub struct ChatRoom {
    pub chat_id: u64,
}

impl ChatRoom {
    async fn can_join(&self, _session: &Session) -> bool {
        (1..=100).contains(&self.chat_id)
    }

    /// What the chat's members see of a user: its name (from the session,
    /// never from what the client sends).
    async fn member(&self, session: &Session) -> Option<Member> {
        let user = session.get::<User>()?;
        Some(Member::new(&user.name, json!({ "name": user.name })))
    }
}

/// A user's private room, `user|<name>`, named from the session.
#[derive(Debug, Clone, Room)]
#[room(extract = UserRoom::from_session, payload = NoPayload)]
pub struct UserRoom {
    pub name: String,
}

/// The join payload of a room named from the session: `{}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoPayload {}

impl UserRoom {
    async fn from_session(session: &Session, _payload: Value) -> Result<Self, ValidationError> {
        let user = session
            .get::<User>()
            .ok_or_else(|| ValidationError::new("not authenticated"))?;
        Ok(Self { name: user.name })
    }
}

/// A message posted to a chat.
#[derive(Debug, Clone, Serialize, JsonSchema, BroadcastEvent)]
#[broadcast(on = ChatRoom { chat_id: self.chat_id })]
pub struct MessageSent {
    pub chat_id: u64,
    pub user: String,
    pub text: String,
}

/// A chat as the application stores it.
#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    pub id: u64,
    pub title: String,
    pub archived: bool,
}

/// What clients see of a chat.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChatResource {
    pub id: u64,
    pub title: String,
}

impl From<&Chat> for ChatResource {
    fn from(chat: &Chat) -> Self {
        Self {
            id: chat.id,
            title: chat.title.clone(),
        }
    }
}

/// A chat's details changed; not sent for archived chats.
#[derive(Debug, BroadcastEvent)]
#[broadcast(
    on = ChatRoom { chat_id: self.chat.id },
    as = ChatResource::from(&self.chat),
    when = !self.chat.archived,
)]
pub struct UpdateChat {
    pub chat: Chat,
}

#[derive(Deserialize)]
struct SendMessage {
    chat_id: u64,
    text: String,
}

/// Custom events of the namespace: `send_message`.
pub fn chat_handlers<A: Adapter>(socket: &SocketRef<A>) {
    socket.on("send_message", send_message::<A>);
}

async fn send_message<A: Adapter>(
    socket: SocketRef<A>,
    TryData(data): TryData<SendMessage>,
    ack: AckSender<A>,
) {
    let outcome = match data {
        Err(e) => Err(json!({ "type": "validation_error", "msg": e.to_string() })),
        Ok(message) => deliver(&socket, message).await,
    };
    let body = match outcome {
        Ok(()) => json!({ "sent": true }),
        Err(error) => {
            let _ = socket.emit("error", &error);
            error
        }
    };
    let _ = ack.send(&body);
}

async fn deliver<A: Adapter>(socket: &SocketRef<A>, message: SendMessage) -> Result<(), Value> {
    let user = socket
        .extensions
        .get::<Session>()
        .and_then(|session| session.get::<User>())
        .ok_or_else(|| json!({ "type": "forbidden", "msg": "not authenticated" }))?;
    let room = ChatRoom {
        chat_id: message.chat_id,
    };
    let name = room
        .name()
        .map_err(|e| json!({ "type": "validation_error", "msg": e.to_string() }))?;
    if !socket.rooms().iter().any(|r| *r == name) {
        return Err(json!({ "type": "forbidden", "room": name }));
    }
    let event = MessageSent {
        chat_id: message.chat_id,
        user: user.name,
        text: message.text,
    };
    broadcast(&event)
        .await
        .map(|_| ())
        .map_err(|e| json!({ "type": "broadcast_failed", "msg": e.to_string() }))
}
