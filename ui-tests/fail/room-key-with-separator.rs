use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize)]
#[room(key = "chat|room")]
struct ChatRoom {
    chat_id: u64,
}

fn main() {}
