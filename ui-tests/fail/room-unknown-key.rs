use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize)]
#[room(guard = Self::check)]
struct ChatRoom {
    chat_id: u64,
}

fn main() {}
