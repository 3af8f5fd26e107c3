use fast_app::prelude::*;
use serde::Deserialize;

#[namespace("/")]
#[rooms(ChatRoom)]
struct Root;

#[derive(Room, Deserialize, schemars::JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

async fn who_is_here() -> Result<Vec<Member>, fast_app::PresenceError> {
    fast_app::presence(&ChatRoom { chat_id: 1 }).await
}

fn main() {
    let _ = who_is_here;
}
