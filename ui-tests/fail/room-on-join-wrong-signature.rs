use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize, schemars::JsonSchema)]
#[room(on_join = Self::joined)]
struct ChatRoom {
    chat_id: u64,
}

impl ChatRoom {
    async fn joined(&self) {}
}

fn main() {}
