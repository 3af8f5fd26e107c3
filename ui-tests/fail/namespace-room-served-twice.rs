use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize, schemars::JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

#[namespace("/")]
#[rooms(ChatRoom)]
struct GlobalNamespace;

#[namespace("/admin")]
#[rooms(ChatRoom)]
struct AdminNamespace;

fn main() {}
