use fast_app::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Room, Deserialize, schemars::JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

#[derive(BroadcastEvent, Serialize, schemars::JsonSchema)]
#[broadcast(on = ChatRoom { chat_id: self.id })]
struct UpdateChat {
    id: u64,
}

fn main() {}
