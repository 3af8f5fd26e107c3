use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize, schemars::JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

#[derive(Room, Deserialize, schemars::JsonSchema)]
#[room(key = "chat")]
struct TalkRoom {
    talk_id: u64,
}

#[namespace("/")]
#[rooms(ChatRoom, TalkRoom)]
struct GlobalNamespace;

fn main() {}
