use fast_app::prelude::*;
use serde::Deserialize;

// Its fields come from the join payload, which the client contract describes.
#[derive(Room, Deserialize)]
struct ChatRoom {
    chat_id: u64,
}

fn main() {}
