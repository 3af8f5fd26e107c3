use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize, schemars::JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

#[namespace("/")]
#[rooms(ChatRoom, ChatRoom)]
struct GlobalNamespace;

fn main() {}
