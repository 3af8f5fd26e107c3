use fast_app::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

// How many events each room keeps: a number above 0.
#[derive(Room, Deserialize, JsonSchema)]
#[room(history = 0)]
struct ChatRoom {
    chat_id: u64,
}

#[derive(Room, Deserialize, JsonSchema)]
#[room(history = "all")]
struct NewsRoom {
    topic: String,
}

fn main() {}
