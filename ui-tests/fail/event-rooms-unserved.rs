use fast_app::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Room, Deserialize, JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

#[derive(Room, Deserialize, JsonSchema)]
struct AuditRoom {
    area: String,
}

#[namespace("/")]
#[rooms(ChatRoom)]
struct GlobalNamespace;

// `AuditRoom` is listed, but no namespace serves it.
#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(on = self.room(), rooms = [ChatRoom, AuditRoom])]
struct UpdateChat {
    chat_id: u64,
}

impl UpdateChat {
    fn room(&self) -> ChatRoom {
        ChatRoom {
            chat_id: self.chat_id,
        }
    }
}

fn main() {}
