use fast_app::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Room, Deserialize, JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

#[namespace("/")]
#[rooms(ChatRoom)]
struct GlobalNamespace;

// A list element is a room type or a room name.
#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(on = self.room(), rooms = [1])]
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
