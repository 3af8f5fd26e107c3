use fast_app::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Room, Deserialize)]
struct ChatRoom {
    chat_id: u64,
}

#[derive(BroadcastEvent, Serialize)]
#[broadcast(on = ChatRoom { chat_id: self.id })]
struct UpdateChat {
    id: u64,
}

fn main() {}
