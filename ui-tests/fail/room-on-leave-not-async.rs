use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize, schemars::JsonSchema)]
#[room(on_leave = Self::left)]
struct ChatRoom {
    chat_id: u64,
}

impl ChatRoom {
    fn left(&self, _session: &Session) {}
}

fn main() {}
