use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize, schemars::JsonSchema)]
#[room(can_join = allowed)]
struct ChatRoom {
    chat_id: u64,
}

// The guard gets the parsed room, not the raw payload.
async fn allowed(_payload: serde_json::Value, _session: &Session) -> bool {
    true
}

fn main() {}
