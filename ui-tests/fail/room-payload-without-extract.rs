use fast_app::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(JsonSchema)]
struct JoinPayload {}

// Without `extract`, the join payload is the room itself.
#[derive(Room, Deserialize, JsonSchema)]
#[room(payload = JoinPayload)]
struct ChatRoom {
    chat_id: u64,
}

fn main() {}
