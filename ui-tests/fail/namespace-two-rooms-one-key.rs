use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize)]
struct ChatRoom {
    chat_id: u64,
}

#[derive(Room, Deserialize)]
#[room(key = "chat")]
struct TalkRoom {
    talk_id: u64,
}

#[namespace("/")]
#[rooms(ChatRoom, TalkRoom)]
struct GlobalNamespace;

fn main() {}
