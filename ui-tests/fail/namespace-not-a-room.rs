use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct ChatRoom {
    chat_id: u64,
}

#[namespace("/")]
#[rooms(ChatRoom)]
struct GlobalNamespace;

fn main() {}
