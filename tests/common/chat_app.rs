//! The small application the Redis tests serve: chats and one event.

use fast_app::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[namespace("/")]
#[rooms(ChatRoom)]
pub struct Root;

#[derive(Clone, Room, Deserialize, JsonSchema)]
pub struct ChatRoom {
    pub chat_id: u64,
}

/// `said {"chat_id", "text"}` to `chat|<chat_id>`.
#[derive(Serialize, BroadcastEvent, JsonSchema)]
#[broadcast(on = ChatRoom { chat_id: self.chat_id })]
pub struct Said {
    pub chat_id: u64,
    pub text: String,
}

/// `said` to chat 1.
#[allow(dead_code)] // the cluster test uses other chats
pub fn said(text: &str) -> Said {
    Said {
        chat_id: 1,
        text: text.to_owned(),
    }
}
