use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize, schemars::JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

#[rooms(ChatRoom)]
#[namespace("/")]
struct GlobalNamespace;

fn main() {}
