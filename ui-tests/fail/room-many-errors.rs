use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize)]
#[room(key = "", can_join = true, on_join)]
struct ChatRoom {
    chat_id: u64,
}

fn main() {}
